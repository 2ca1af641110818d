// Fault injection: the git remote of a running `trellis config-server` becomes unreachable (its git daemon killed)
// and comes back; the last good clone keeps serving, health says the fetch fails and since when, a new commit follows.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { acceptsConnections, freePort } from '@trellis/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { startTrellis, type TrellisProcess } from '../../kit/test/support/trellis-process.ts';
import { GIT_ENV, gitIn, tempRepo, type EnvJson } from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'config-faults-git-'));
const children: ChildProcess[] = [];
let server: TrellisProcess | undefined;
afterAll(async () => {
  await server?.stop();
  for (const c of children) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/** `git daemon` serving the bare repositories under `root` on `port`; answers once it accepts connections. */
async function gitDaemon(port: number): Promise<ChildProcess> {
  // git-daemon itself, not `git daemon`: the git wrapper runs it as a child, which a SIGKILL of the wrapper would leave.
  const daemon = spawn(
    join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-daemon'),
    ['--reuseaddr', '--export-all', `--base-path=${root}`, '--listen=127.0.0.1', `--port=${port}`, root],
    { env: GIT_ENV, stdio: 'ignore' },
  );
  children.push(daemon);
  const deadline = Date.now() + 10_000;
  while (!(await acceptsConnections('127.0.0.1', port))) {
    if (Date.now() > deadline || daemon.exitCode !== null) throw new Error('git daemon did not start');
    await sleep(50);
  }
  return daemon;
}

interface RepositoryHealth {
  readonly uri: string;
  readonly cloned: boolean;
  readonly commit?: string;
  readonly lastFetch?: string;
  readonly lastGoodFetch?: string;
  readonly fetchError?: string;
}

interface Health {
  readonly status: string;
  readonly components: { config: { status: string; details: { repositories: RepositoryHealth[] } } };
}

describe('the git remote unreachable', () => {
  it('serves the last good clone, says so in health, and serves a new commit once the remote is back', async () => {
    const work = tempRepo({ 'application.yml': 'shared: app\n', 'product.yml': 'port: 7001\ngreeting: hello\n' });
    const git = gitIn(work.root);
    git('init', '--quiet', '-b', 'main');
    git('add', '-A');
    git('commit', '--quiet', '-m', 'first');
    const first = git('rev-parse', 'HEAD');
    gitIn(root)('clone', '--quiet', '--bare', work.root, join(root, 'config.git'));
    git('remote', 'add', 'origin', join(root, 'config.git'));

    const port = await freePort();
    let daemon = await gitDaemon(port);
    const start = (): Promise<TrellisProcess> =>
      startTrellis(
        [
          'config-server',
          '--http',
          '--port',
          '0',
          '--data-dir',
          join(root, 'data'),
          '--git-uri',
          `git://127.0.0.1:${port}/config.git`,
          '--git-refresh-rate',
          '1',
          '--git-timeout',
          '3',
          '--health-show-details',
          'always',
        ],
        { env: GIT_ENV },
      );
    server = await start();
    let base = server.url;
    const product = async (): Promise<{ version: string | null; greeting: unknown; port: unknown }> => {
      const res = await fetch(`${base}/product/default`);
      expect(res.status).toBe(200);
      const env = (await res.json()) as EnvJson;
      const all = Object.assign({}, ...env.propertySources.map((s) => s.source).reverse()) as Record<string, unknown>;
      return { version: env.version, greeting: all.greeting, port: all.port };
    };
    const health = async (): Promise<{ status: number; body: Health; repo: RepositoryHealth }> => {
      const res = await fetch(`${base}/actuator/health`);
      const body = (await res.json()) as Health;
      return { status: res.status, body, repo: body.components.config.details.repositories[0] as RepositoryHealth };
    };

    const before = await product();
    expect(before).toEqual({ version: first, greeting: 'hello', port: 7001 });
    const healthy = await health();
    expect(healthy.repo).toMatchObject({ cloned: true, commit: first });
    expect(healthy.repo.fetchError).toBeUndefined();
    expect(healthy.repo.lastGoodFetch).toBe(healthy.repo.lastFetch);

    // The remote goes away (SIGKILL, as a crashed host), and moves on meanwhile: the server cannot know.
    daemon.kill('SIGKILL');
    await new Promise((resolve) => daemon.once('exit', resolve));
    const remoteGone = Date.now();
    work.write('product.yml', 'port: 7001\ngreeting: moved on\n');
    git('commit', '--quiet', '-am', 'second');
    const second = git('rev-parse', 'HEAD');
    git('push', '--quiet', 'origin', 'main');

    await expect.poll(async () => (await health()).repo.fetchError, { timeout: 15_000, interval: 200 }).toBeDefined();
    // Two more refresh periods of failures: the staleness must show, and the last good clone keep serving.
    await sleep(2500);
    let served = 0;
    for (let i = 0; i < 20; i++) {
      expect(await product()).toEqual(before);
      served++;
    }
    const stale = await health();
    // UP: the server answers from its clone (a DOWN would make load balancers drop it); the component says why
    // what it serves may be old: the fetch error, when it last fetched, and when a fetch last worked.
    expect(stale.status).toBe(200);
    expect(stale.body.components.config.status).toBe('UP');
    expect(stale.repo.cloned).toBe(true);
    expect(stale.repo.commit).toBe(first);
    expect(stale.repo.fetchError).toMatch(/^fatal: unable to connect to 127\.0\.0\.1: .*Connection refused$/);
    expect(stale.repo.lastGoodFetch).toBeDefined();
    expect(Date.parse(stale.repo.lastFetch ?? '')).toBeGreaterThan(Date.parse(stale.repo.lastGoodFetch ?? ''));
    expect(Date.now() - Date.parse(stale.repo.lastGoodFetch ?? '')).toBeGreaterThanOrEqual(2500);
    // The server's own log says the same, once per failed fetch.
    expect(server.output()).toContain('git fetch failed; serving the last good state');

    // Killed and started again while the remote is still down: it serves from the clone in its data directory, and
    // health still dates what it serves from before the outage (git's record of its last fetch), not from the restart.
    await server.kill();
    server = await start();
    base = server.url;
    for (let i = 0; i < 20; i++) {
      expect(await product()).toEqual(before);
      served++;
    }
    const restarted = await health();
    expect(restarted.body.components.config.status).toBe('UP');
    expect(restarted.repo).toMatchObject({ cloned: true, commit: first, fetchError: expect.any(String) as unknown });
    // The same moment as before the restart: the last fetch that worked, before the outage (one already talking to
    // the daemon when it died may have finished just after).
    expect(restarted.repo.lastGoodFetch).toBe(stale.repo.lastGoodFetch);
    expect(Date.parse(restarted.repo.lastGoodFetch ?? '')).toBeLessThan(remoteGone + 1000);

    // The remote comes back on its address: the next background fetch takes the new commit.
    daemon = await gitDaemon(port);
    await expect.poll(async () => (await product()).version, { timeout: 15_000, interval: 200 }).toBe(second);
    expect(await product()).toEqual({ version: second, greeting: 'moved on', port: 7001 });
    const recovered = await health();
    expect(recovered.repo.commit).toBe(second);
    expect(recovered.repo.fetchError).toBeUndefined();
    expect(recovered.repo.lastGoodFetch).toBe(recovered.repo.lastFetch);
    console.log(
      `git remote down: ${served} requests served from the last good clone (${first.slice(0, 7)}); ` +
        `after it came back, ${second.slice(0, 7)} served; health while down: ${JSON.stringify(stale.repo)}`,
    );
    work.remove();
  }, 90_000);
});
