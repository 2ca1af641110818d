// Each subpath of @trellis/clients loads only the third-party packages it uses, so a service pays for what it imports.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { recordingLoads } from '../../kit/test/support/module-loads.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What importing `specifier` loads in a fresh process: the packages below node_modules, and how many modules. */
async function loadedBy(specifier: string): Promise<{ packages: string[]; modules: number }> {
  const { loaded } = await recordingLoads((nodeArgs) =>
    promisify(execFile)(
      process.execPath,
      [...nodeArgs, '--import', 'tsx', '--input-type=module', '--eval', `await import(${JSON.stringify(specifier)});`],
      { cwd: ROOT },
    ),
  );
  const packages = new Set(loaded.flatMap((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? []));
  return { packages: [...packages], modules: loaded.length };
}

describe('@trellis/clients subpaths', () => {
  it.each([
    ['events', [], ['amqplib', '@platformatic/kafka', 'undici', 'jose', 'cockatiel']],
    ['resilience', ['cockatiel'], ['undici', 'jose', 'amqplib']],
    ['discovery', ['undici'], ['jose', 'amqplib', 'cockatiel']],
    ['config', ['undici'], ['jose', 'amqplib', 'cockatiel']],
    ['http', ['undici'], ['jose', 'amqplib', 'cockatiel']],
  ])('%s loads %j and none of %j at import', async (subpath, present, absent) => {
    const { packages, modules } = await loadedBy(`@trellis/clients/${subpath}`);
    // The subpath and its own files did load, so an empty list means something.
    expect(modules).toBeGreaterThan(3);
    expect(packages).toEqual(expect.arrayContaining(present));
    expect(packages.filter((name) => absent.includes(name))).toEqual([]);
  });
});
