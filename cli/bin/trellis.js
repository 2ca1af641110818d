#!/usr/bin/env node
// The trellis command. Installed, it runs the compiled dist/ with plain node. Inside the Trellis repository the root
// scripts (npm start, npm test) run node with the "@trellis/source" condition, which points #main and every
// @trellis/* import at the TypeScript sources; tsx then compiles each module as it loads, so an edit needs no build.
const main = import.meta.resolve('#main');
if (main.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { main: run } = await import(main);
await run(process.argv.slice(2), process.env);
