// `trellis auth-server` restarts itself in place with its V8 flags (same PID), unless the user chose their own.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_SERVER_NODE_FLAGS, missingNodeFlags } from '../src/node-flags.ts';

const bin = fileURLToPath(new URL('../bin/trellis.js', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-node-flags-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** Starts the auth server, waits for its start-up summary, and answers its PID's command line as the kernel has it. */
async function commandLineOfStarted(env: NodeJS.ProcessEnv): Promise<{ spawnedPid: number; argv: string[] }> {
  const child = spawn(
    process.execPath,
    [bin, 'auth-server', '--port', '0', '--host', '127.0.0.1', '--data-dir', dir, '--log-format', 'json'],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`auth server did not start in 30 s:\n${out}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString('utf8');
        if (/^ {2}\S+ +https?:\/\/\S+/m.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`auth server exited (${code}):\n${out}`)));
    });
    const raw = await readFile(`/proc/${child.pid}/cmdline`, 'utf8');
    return { spawnedPid: child.pid ?? 0, argv: raw.split('\0').filter((a) => a !== '') };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

describe('the auth server runs with its young-generation cap', () => {
  it('as the same process (PID) it was spawned as, with the flag on its command line', async () => {
    const { argv } = await commandLineOfStarted({ AUTH_SEED_DEV_CLIENTS: 'false' });
    expect(argv).toEqual(expect.arrayContaining([...AUTH_SERVER_NODE_FLAGS]));
    expect(argv).toContain('auth-server');
  }, 60_000);

  it("leaves a user's own --max-semi-space-size in NODE_OPTIONS alone, and TRELLIS_NODE_FLAGS=off leaves out its own", async () => {
    const chosen = await commandLineOfStarted({
      AUTH_SEED_DEV_CLIENTS: 'false',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-semi-space-size=32`,
    });
    expect(chosen.argv.some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    const off = await commandLineOfStarted({ AUTH_SEED_DEV_CLIENTS: 'false', TRELLIS_NODE_FLAGS: 'off' });
    expect(off.argv.some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
  }, 90_000);

  it('counts a flag given by name with any value as given', () => {
    expect(missingNodeFlags(['--max-semi-space-size=16'], {}, [])).toEqual(['--max-semi-space-size=16']);
    expect(missingNodeFlags(['--max-semi-space-size=16'], {}, ['--max-semi-space-size=64'])).toEqual([]);
    expect(missingNodeFlags(['--max-semi-space-size=16'], { NODE_OPTIONS: '--max-semi-space-size=8' }, [])).toEqual([]);
  });
});
