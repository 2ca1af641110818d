// Which modules a child process loads, on every Node the project runs on: node:module's in-thread hooks where Node
// has them (22.15+), its off-thread hooks on Node 20; either way each module's URL is appended to a file as it loads.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A load hook that notes the URL in `file`; the same module serves registerHooks (sync) and register (async). */
function recordingHooks(file: string): string {
  return `import { appendFileSync } from 'node:fs';
export function load(url, context, next) {
  appendFileSync(${JSON.stringify(file)}, url + '\\n');
  return next(url, context);
}`;
}

/** Preloaded with --import: installs the hooks, in-thread where node:module has registerHooks (Node 22.15+). */
function installer(hooksUrl: string): string {
  return `import * as nodeModule from 'node:module';
const hooks = ${JSON.stringify(hooksUrl)};
if (nodeModule.registerHooks) nodeModule.registerHooks(await import(hooks));
else nodeModule.register(hooks);`;
}

const dataUrl = (source: string): string => `data:text/javascript,${encodeURIComponent(source)}`;

/**
 * Runs `run` with Node flags that make the process it starts record its loads, and returns what it returned and the
 * URLs of the modules loaded, in order: the ESM graph on any Node, and also modules loaded with require() on 22.15+.
 *
 * @example
 * const { result, loaded } = await recordingLoads((nodeArgs) =>
 *   spawnSync(process.execPath, [...nodeArgs, bin, '--help'], { encoding: 'utf8' }),
 * );
 */
export async function recordingLoads<T>(
  run: (nodeArgs: readonly string[]) => T | Promise<T>,
): Promise<{ result: T; loaded: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-loads-'));
  const file = join(dir, 'loaded');
  try {
    const result = await run(['--import', dataUrl(installer(dataUrl(recordingHooks(file))))]);
    // No file: the process loaded nothing, not even its entry point.
    const loaded = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    return { result, loaded };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
