#!/usr/bin/env node
// `npm run build`: compiles every published package into its dist/ (ES modules, .d.ts, source maps) with tsc -b, then
// copies beside the JavaScript the files the code reads at run time (SQL migrations, Maven poms, the collector's
// manifest, the landscape's config-repo), which tsc does not emit.
import { spawnSync } from 'node:child_process';
import { cpSync, globSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { PUBLISHED, ROOT as root } from './published.mjs';
const ASSETS = '**/*.{sql,xml,yaml}';

const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// The landscape's configuration (the services' settings and the gateway's routes) ships with @trellis/examples, so an
// installed `trellis up` serves it where there is no ./config-repo (cli/src/up.ts).
cpSync(join(root, 'config-repo'), join(root, 'examples', 'dist', 'config-repo'), { recursive: true });

for (const name of PUBLISHED) {
  const src = join(root, name, 'src');
  for (const file of globSync(ASSETS, { cwd: src })) cpSync(join(src, file), join(root, name, 'dist', file));
}
