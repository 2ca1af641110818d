// The catalogue lists each component as the component itself does, and `trellis <component>` loads that one alone.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { recordingLoads } from '../../kit/test/support/module-loads.ts';
import { catalogue, loadAll } from '../src/catalogue.ts';

const bin = fileURLToPath(new URL('../bin/trellis.js', import.meta.url));
const root = pathToFileURL(fileURLToPath(new URL('../../', import.meta.url))).href;

/** Runs `trellis` with `args`: what it printed, and the repository's modules it loaded (paths from the root). */
async function runRecordingLoads(args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const { result: run, loaded } = await recordingLoads((nodeArgs) =>
    spawnSync(process.execPath, [...nodeArgs, bin, ...args], { encoding: 'utf8', env }),
  );
  const ours = loaded
    .filter((url) => url.startsWith(root) && !url.includes('/node_modules/'))
    .map((url) => url.slice(root.length));
  return { run, loaded: ours };
}

describe('the trellis command inside the repository', () => {
  it("runs the sources even without the root scripts' condition (`npx trellis`), never a stale or missing dist/", async () => {
    const { NODE_OPTIONS: _rootScriptsOnly, ...env } = process.env;
    const { run, loaded } = await runRecordingLoads(['registry', '--help'], env);
    expect(run.status).toBe(0);
    expect(loaded).toContain('cli/src/main.ts');
    expect(loaded).toContain('registry/src/main.ts');
    expect(loaded.filter((path) => path.includes('/dist/'))).toEqual([]);
  });
});

describe('the catalogue', () => {
  it('names and summarises each component as the component itself does', async () => {
    const components = await loadAll(catalogue);
    expect(catalogue.map((entry) => [entry.name, entry.summary])).toEqual(
      components.map((component) => [component.name, component.summary]),
    );
  });

  it('loads only the component that runs: `trellis product --help` loads no server and no other service', async () => {
    const { run, loaded } = await runRecordingLoads(['product', '--help']);
    expect(run.stdout).toContain('Usage: trellis product [flags]');
    expect(run.status).toBe(0);
    expect(new Set(loaded.map((path) => path.split('/')[0]))).toEqual(new Set(['cli', 'kit', 'clients', 'examples']));
    const examples = loaded.filter((path) => path.startsWith('examples/'));
    expect(examples.filter((path) => !/^examples\/src\/(product|shared)\//.test(path))).toEqual([]);
  });

  it('loads no component for `trellis --version`: the command and the kit alone', async () => {
    const { run, loaded } = await runRecordingLoads(['--version']);
    expect(run.stdout).toMatch(/^trellis \d+\.\d+\.\d+ \(Node\.js v\d+\.\d+\.\d+\)\n$/);
    expect(run.status).toBe(0);
    expect(new Set(loaded.map((path) => path.split('/')[0]))).toEqual(new Set(['cli', 'kit']));
  });
});
