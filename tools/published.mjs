// The workspace packages that are published: every workspace whose package.json is not private.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @param {string} file @returns {{ private?: boolean, workspaces?: string[] }} */
// eslint-disable-next-line @typescript-eslint/no-unsafe-return -- JSON.parse is untyped in JavaScript; @returns says what is read
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** The published workspaces' directories, relative to the root, in the root package.json's order. */
export const PUBLISHED = (readJson(join(ROOT, 'package.json')).workspaces ?? []).filter(
  (dir) => readJson(join(ROOT, dir, 'package.json')).private !== true,
);
