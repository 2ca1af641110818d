#!/usr/bin/env node
// Trellis is written in TypeScript and run from source: tsx compiles each module as it loads.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
await main(process.argv.slice(2), process.env);
