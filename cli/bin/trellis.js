#!/usr/bin/env node
// The trellis command. Installed (under node_modules), it runs the compiled dist/ with plain node. Inside the Trellis
// repository it always runs the TypeScript sources, as npm start does, so `npx trellis` there never runs a stale or
// missing dist/: the "@trellis/source" condition points #main and every @trellis/* import at src/ (the root scripts
// set it in NODE_OPTIONS; here it is added for this process if they did not), and tsx compiles each module as it
// loads, so an edit needs no build.
import { registerHooks } from 'node:module';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const installed = fileURLToPath(import.meta.url).includes(`${sep}node_modules${sep}`);
if (!installed) {
  registerHooks({
    resolve: (specifier, context, next) =>
      next(specifier, { ...context, conditions: [...context.conditions, '@trellis/source'] }),
  });
}
const main = import.meta.resolve('#main');
if (main.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { main: run } = await import(main);
await run(process.argv.slice(2), process.env, { applyNodeFlags: true });
