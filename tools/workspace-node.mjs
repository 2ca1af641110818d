#!/usr/bin/env node
// Runs a root script's command (trellis up, vitest, the bench) the way this repository runs its code:
// - on a Node that Trellis supports (22.22 or newer). A machine that ships an older Node (many still ship 20) gets
//   the official Node 24 build from the npm registry (the node-<platform>-<arch> package) once, cached under
//   ~/.cache/trellis/node24, and the command runs on it; so `npm ci && npm start` and `npm ci && npm test` work there
//   unchanged. Written to run on old Node itself.
// - from the TypeScript sources: NODE_OPTIONS gains --conditions=@trellis/source, so this process's children (the
//   servers tests start, too) import the packages' src/ instead of their built dist/, and tsx compiles them.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const supported = major > 22 || (major === 22 && minor >= 22);
const bins = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin');
const env = {
  ...process.env,
  // The workspace's commands (trellis, vitest, tsx), also when this runs outside an npm script.
  PATH: `${bins}${delimiter}${process.env.PATH}`,
  NODE_OPTIONS: [process.env.NODE_OPTIONS, '--conditions=@trellis/source'].filter(Boolean).join(' '),
};

if (!supported) {
  // The layout `trellis setup` (cli/src/setup.ts) also fills, for the consumer test's Node 22 and 24.
  const prefix = join(homedir(), '.cache', 'trellis', 'node24');
  const packageName = `node-${process.platform}-${process.arch}`;
  const bin = join(prefix, 'node_modules', packageName, 'bin');
  if (!existsSync(join(bin, 'node'))) {
    process.stderr.write(
      `Node ${process.versions.node} is older than Trellis needs (22.22); fetching Node 24 from the npm registry into ${prefix}\n`,
    );
    const install = spawnSync(
      'npm',
      ['install', '--no-save', '--no-package-lock', '--prefix', prefix, `${packageName}@24`],
      {
        stdio: 'inherit',
      },
    );
    if (install.status !== 0) process.exit(install.status ?? 1);
  }
  env.PATH = `${bin}${delimiter}${env.PATH}`;
}

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write('usage: node tools/workspace-node.mjs <command> [args...]\n');
  process.exit(2);
}
const child = spawn(command, args, { stdio: 'inherit', env });
child.on('error', (/** @type {Error} */ error) => {
  process.stderr.write(`cannot run ${command}: ${error.message}\n`);
  process.exit(127);
});
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP']))
  process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
