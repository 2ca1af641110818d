// The `trellis` command as a module: its main() and the start-up summary it prints.
export { main, renderSummary } from './main.ts';
export type { MainOptions } from './main.ts';
