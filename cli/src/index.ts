export { main, renderSummary } from './main.ts';
export type { MainOptions } from './main.ts';
