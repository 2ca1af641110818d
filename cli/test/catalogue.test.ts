// The catalogue lists each component as the component itself does, and `trellis <component>` loads that one alone.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { catalogue, loadAll } from '../src/catalogue.ts';

const bin = fileURLToPath(new URL('../bin/trellis.js', import.meta.url));
const root = pathToFileURL(fileURLToPath(new URL('../../', import.meta.url))).href;

/** Prints, as the process exits, every module it loaded (node:module's in-thread hooks see tsx's .ts files too). */
const RECORD_LOADS = `
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(loaded) + '\\n'));
`;

describe('the catalogue', () => {
  it('names and summarises each component as the component itself does', async () => {
    const components = await loadAll(catalogue);
    expect(catalogue.map((entry) => [entry.name, entry.summary])).toEqual(
      components.map((component) => [component.name, component.summary]),
    );
  });

  it('loads only the component that runs: `trellis product --help` loads no server and no other service', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(RECORD_LOADS)}`, bin, 'product', '--help'],
      { encoding: 'utf8' },
    );
    expect(run.stdout).toContain('Usage: trellis product [flags]');
    expect(run.status).toBe(0);
    const loaded = (JSON.parse(/^LOADED (.*)$/m.exec(run.stderr)?.[1] ?? '[]') as string[])
      .filter((url) => url.startsWith(root) && !url.includes('/node_modules/'))
      .map((url) => url.slice(root.length));
    expect(new Set(loaded.map((path) => path.split('/')[0]))).toEqual(new Set(['cli', 'kit', 'clients', 'examples']));
    const examples = loaded.filter((path) => path.startsWith('examples/'));
    expect(examples.filter((path) => !/^examples\/src\/(product|shared)\//.test(path))).toEqual([]);
  });
});
