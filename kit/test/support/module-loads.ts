// Which modules a child process loads: node:module's in-thread hooks append each module's URL to a file as it loads.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A load hook that notes the URL in `file`. */
function recordingHooks(file: string): string {
  return `import { appendFileSync } from 'node:fs';
export function load(url, context, next) {
  appendFileSync(${JSON.stringify(file)}, url + '\\n');
  return next(url, context);
}`;
}

/** Preloaded with --import: installs the hooks in-thread, so they also see modules loaded with require(). */
function installer(hooksUrl: string): string {
  return `import { registerHooks } from 'node:module';
registerHooks(await import(${JSON.stringify(hooksUrl)}));`;
}

const dataUrl = (source: string): string => `data:text/javascript,${encodeURIComponent(source)}`;

/**
 * Runs `run` with Node flags that make the process it starts record its loads, and returns what it returned and the
 * URLs of the modules loaded, in order, imported or required.
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
