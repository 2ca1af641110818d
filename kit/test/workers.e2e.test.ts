// runWorkers: a primary that restarts workers with backoff, gives up on ones that never start, and stops them all.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../src/settings.ts';
import { workersSetting } from '../src/workers.ts';

const fixture = fileURLToPath(new URL('./fixtures/workers.ts', import.meta.url));

function primary(mode: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exited, lines };
}

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('runWorkers', () => {
  it('gives up with exit 1 once a worker failed three starts in a row', async () => {
    const p = primary('fail');
    expect(await p.exited).toBe(1);
    const lines = p.lines();
    expect(lines.filter((l) => l.msg === 'worker keeps failing at start; giving up')[0]).toMatchObject({ starts: 3 });
    // The first failure of each slot is restarted after 20 ms, the second after 40.
    const waits = lines
      .filter((l) => l.msg === 'worker exited; restarting it' && l.worker === 1)
      .map((l) => l.restartInMs);
    expect(waits.slice(0, 2)).toEqual([20, 40]);
  }, 30_000);

  it('stops at once with exit 2 when a worker refuses to start, as one process would', async () => {
    const p = primary('refuse');
    expect(await p.exited).toBe(2);
    expect(p.lines().some((l) => l.msg === 'worker exited; restarting it')).toBe(false);
  }, 30_000);

  it('retries a replacement that refuses to start once a worker has started, with the doubling wait, while the other serves on', async () => {
    const p = primary('refuse-later');
    const restarts = () => p.lines().filter((l) => l.msg === 'worker exited; restarting it' && l.worker === 1);
    await until(() => restarts().length >= 5);
    const [killed, ...refused] = restarts();
    expect(killed).toMatchObject({ signal: 'SIGKILL', reason: 'killed by SIGKILL', serving: 1, restartInMs: 20 });
    // Each refusal is logged with why, and waited out twice as long as the one before.
    for (const line of refused) {
      expect(line).toMatchObject({ code: 2, serving: 1 });
      expect(line.reason).toMatch(/refused to start \(exit 2\)/);
    }
    expect(refused.slice(0, 4).map((l) => l.restartInMs)).toEqual([40, 80, 160, 320]);
    // Never stopped: worker 2 is still the one that started first, and nothing gave up.
    expect(p.child.exitCode).toBeNull();
    expect(p.lines().some((l) => l.msg === 'stopping workers')).toBe(false);
    expect(p.lines().some((l) => l.msg === 'worker exited; restarting it' && l.worker === 2)).toBe(false);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  }, 30_000);

  it('restarts a worker that keeps dying after it started, waiting twice as long each time, and stops on SIGTERM', async () => {
    const p = primary('crash');
    const restarts = () => p.lines().filter((l) => l.msg === 'worker exited; restarting it' && l.worker === 1);
    await until(() => restarts().length >= 4);
    expect(
      restarts()
        .slice(0, 4)
        .map((l) => l.restartInMs),
    ).toEqual([20, 40, 80, 160]);
    expect(p.lines().some((l) => l.msg === 'worker keeps failing at start; giving up')).toBe(false);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  }, 30_000);

  it('stops its workers gracefully on SIGINT and exits 0', async () => {
    const p = primary('serve');
    await until(() => p.lines().some((l) => l.msg === 'fixture: all workers ready'));
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    expect(p.lines().some((l) => l.msg === 'worker exited; restarting it')).toBe(false);
  }, 30_000);

  it('stops workers that are still starting too, without waiting for them to be ready', async () => {
    const p = primary('slow');
    await until(() => p.lines().some((l) => l.msg === 'fixture: starting 2 workers'));
    await new Promise((r) => setTimeout(r, 500));
    const asked = Date.now();
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(Date.now() - asked).toBeLessThan(5000);
  }, 30_000);
});

describe('--workers', () => {
  const load = (raw: string) => loadSettings({ workers: workersSetting() }, { argv: ['--workers', raw] }).workers;

  it('takes a count, or auto for one per core, and defaults to 1', () => {
    expect(loadSettings({ workers: workersSetting() }, {}).workers).toBe(1);
    expect(load('4')).toBe(4);
    expect(load('auto')).toBeGreaterThanOrEqual(1);
    expect(loadSettings({ workers: workersSetting() }, { env: { TRELLIS_WORKERS: '3' } }).workers).toBe(3);
  });

  it('refuses 0, negatives, fractions and words', () => {
    for (const raw of ['0', '-1', '1.5', 'two', '257']) {
      expect(() => load(raw)).toThrow(`invalid --workers: "${raw}" is not a whole number from 1 to 256, or auto`);
    }
  });
});
