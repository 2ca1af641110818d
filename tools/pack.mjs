#!/usr/bin/env node
// `npm run pack -- <dir>`: builds every published package and packs each into <dir> as the tarball `npm publish`
// would upload (the consumer test and the image install these, never the workspace's links). Prints the files.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { PUBLISHED, ROOT as root } from './published.mjs';

const destination = resolve(process.argv[2] ?? 'packs');
mkdirSync(destination, { recursive: true });

const build = spawnSync(process.execPath, [join(root, 'tools', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const workspaces = PUBLISHED.flatMap((name) => ['--workspace', name]);
const pack = spawnSync('npm', ['pack', ...workspaces, '--pack-destination', destination, '--silent'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
});
process.exit(pack.status ?? 1);
