// `trellis gateway|auth-server --workers N`: real processes sharing a port, replaced when they die, stopped together.
import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, randomBytes, verify, type JsonWebKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@trellis/kit';

const bin = fileURLToPath(new URL('../bin/trellis.js', import.meta.url));

interface Trellis {
  readonly child: ChildProcess;
  /** Every JSON log line so far, parsed. */
  lines(): Record<string, unknown>[];
  out(): string;
  err(): string;
  exited: Promise<number | null>;
}

const running: Trellis[] = [];
afterEach(async () => {
  for (const t of running.splice(0)) {
    if (t.child.exitCode === null && t.child.signalCode === null) {
      t.child.kill('SIGKILL');
      await t.exited;
    }
  }
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-workers-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function trellis(args: readonly string[], env: NodeJS.ProcessEnv = {}): Trellis {
  const child = spawn(process.execPath, [bin, ...args, '--log-format', 'json'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const t: Trellis = {
    child,
    out: () => out,
    err: () => err,
    exited,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
  running.push(t);
  return t;
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const readyCount = (t: Trellis): number => t.lines().filter((l) => l.msg === 'worker ready').length;

/** One request on a connection of its own, so the kernel (or the primary) picks a worker for each. */
function fresh(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { agent: false, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The pids of a process's children, from /proc (Linux). */
async function childPids(pid: number): Promise<number[]> {
  const { readFile } = await import('node:fs/promises');
  const text = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

describe('trellis gateway --workers 2', () => {
  it('serves from both workers, answers for both at /actuator/prometheus, refuses the route API, replaces a killed worker and stops on SIGTERM', async () => {
    const upstream = http.createServer((_req, res) => res.end('upstream'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    try {
      const routes = join(dir, 'routes.yml');
      await writeFile(
        routes,
        [
          'spring.cloud.gateway.routes:',
          '- id: up',
          `  uri: http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
          '  predicates: [Path=/up/**]',
          '  filters: [Public]',
          '',
        ].join('\n'),
      );
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const gw = trellis([
        'gateway',
        '--workers',
        '2',
        '--http-only',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--data-dir',
        join(dir, 'gw'),
        '--routes-file',
        routes,
        '--admin-auth',
        'basic:admin:workers-test-secret',
        // The kit's `request completed` lines of /actuator/info are debug: they say which worker answered.
        '--log-level',
        'debug',
      ]);
      await until(() => readyCount(gw) === 2, 'two workers ready');
      // The per-worker state the operator must know of is named at start, once.
      expect(
        gw.lines().filter((l) => String(l.msg).startsWith('RequestRateLimiter buckets are kept in each worker')),
      ).toHaveLength(1);
      // The start-up summary is printed once, not by every worker.
      expect(gw.out().match(/Trellis is up:/g)).toHaveLength(1);

      for (let i = 0; i < 20; i++) expect(await fresh(`${url}/up/${i}`)).toEqual({ status: 200, body: 'upstream' });
      for (let i = 0; i < 20; i++) expect((await fresh(`${url}/actuator/info`)).status).toBe(200);
      const answeredBy = new Set(
        gw
          .lines()
          .filter((l) => l.msg === 'request completed' && (l.req as { url: string }).url === '/actuator/info')
          .map((l) => `${String(l.worker)}:${String(l.pid)}`),
      );
      expect(answeredBy.size).toBe(2);

      // One scrape answers for every worker: the 20 info requests were spread over two processes.
      const scrape = await fresh(`${url}/actuator/prometheus`);
      expect(scrape.status).toBe(200);
      const infoCount =
        /^http_server_requests_seconds_count\{[^}]*uri="\/actuator\/info"[^}]*status="200"[^}]*\} (\d+)/m.exec(
          scrape.body,
        );
      expect(Number(infoCount?.[1])).toBe(20);

      // A route change through one worker would reach one table: refused, and a refresh reaches both.
      const authorization = `Basic ${Buffer.from('admin:workers-test-secret').toString('base64')}`;
      const put = await fresh(`${url}/actuator/gateway/routes/extra`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ uri: 'http://127.0.0.1:1', predicates: ['Path=/extra/**'] }),
      });
      expect(put.status).toBe(409);
      const refusal = JSON.parse(put.body) as { error: string; message: string };
      expect(refusal.error).toBe('route_conflict');
      expect(refusal.message).toMatch(/runs 2 worker processes \(--workers\), each with its own route table/);
      expect(
        (await fresh(`${url}/actuator/gateway/routes/up`, { method: 'DELETE', headers: { authorization } })).status,
      ).toBe(409);
      expect(
        (await fresh(`${url}/actuator/gateway/refresh`, { method: 'POST', headers: { authorization } })).status,
      ).toBe(200);
      await until(
        () => gw.lines().some((l) => l.msg === 'routes refreshed (asked by another worker)'),
        'the other worker refreshed',
        5000,
      );

      // A worker killed outright is replaced; the other serves meanwhile.
      const pid = gw.child.pid ?? 0;
      const [victim] = await childPids(pid);
      process.kill(victim ?? 0, 'SIGKILL');
      // Connections the kernel queued on the dying worker's socket before it closed are reset (SO_REUSEPORT); once
      // it is gone, the other takes every new one.
      await until(() => gw.lines().some((l) => l.msg === 'worker exited; restarting it'), 'the primary saw it die');
      for (let i = 0; i < 10; i++) expect((await fresh(`${url}/up/${i}`)).status).toBe(200);
      await until(() => readyCount(gw) === 3, 'the killed worker replaced');
      const replaced = gw.lines().find((l) => l.msg === 'worker exited; restarting it');
      expect(replaced).toMatchObject({ workerPid: victim, signal: 'SIGKILL' });
      const now = await childPids(pid);
      expect(now).toHaveLength(2);
      expect(now).not.toContain(victim);
      for (let i = 0; i < 10; i++) expect((await fresh(`${url}/up/${i}`)).status).toBe(200);
      expect(gw.out().match(/Trellis is up:/g)).toHaveLength(1);

      gw.child.kill('SIGTERM');
      expect(await gw.exited).toBe(0);
      await expect(fresh(`${url}/up/1`)).rejects.toThrow(/ECONNREFUSED/);
      expect(gw.lines().filter((l) => l.msg === 'stopped')).toHaveLength(2);
    } finally {
      upstream.close();
    }
  }, 90_000);

  it('keeps serving when a replacement worker refuses a routes file broken since start, and takes it once fixed', async () => {
    const upstream = http.createServer((_req, res) => res.end('upstream'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    try {
      const routes = join(dir, 'routes-broken-later.yml');
      const good = [
        'spring.cloud.gateway.routes:',
        '- id: up',
        `  uri: http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        '  predicates: [Path=/up/**]',
        '  filters: [Public]',
        '',
      ].join('\n');
      await writeFile(routes, good);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const gw = trellis([
        'gateway',
        '--workers',
        '2',
        '--http-only',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--data-dir',
        join(dir, 'gw-broken-later'),
        '--routes-file',
        routes,
        '--admin-auth',
        'basic:admin:workers-test-secret',
      ]);
      await until(() => readyCount(gw) === 2, 'two workers ready');
      // The file breaks; a refresh refuses it and the routes in force stay.
      await writeFile(routes, 'spring.cloud.gateway.routes: [ {id: up, uri: ::: \n');
      const authorization = `Basic ${Buffer.from('admin:workers-test-secret').toString('base64')}`;
      const refresh = await fresh(`${url}/actuator/gateway/refresh`, { method: 'POST', headers: { authorization } });
      expect(refresh.status).toBeGreaterThanOrEqual(400);
      expect((await fresh(`${url}/up/x`)).status).toBe(200);

      // A worker killed outright: its replacement reads the broken file and refuses, again and again, with why.
      const [victim] = await childPids(gw.child.pid ?? 0);
      process.kill(victim ?? 0, 'SIGKILL');
      const refusals = () =>
        gw.lines().filter((l) => l.msg === 'worker exited; restarting it' && /refused to start/.test(String(l.reason)));
      await until(() => refusals().length >= 2, 'two refusals of the replacement');
      expect(gw.child.exitCode).toBeNull();
      expect(gw.lines().some((l) => l.msg === 'stopping workers')).toBe(false);
      const waits = refusals().map((l) => Number(l.restartInMs));
      expect(waits[1]).toBe(2 * (waits[0] ?? 0));
      expect(refusals()[0]).toMatchObject({ code: 2, serving: 1 });
      // The healthy worker serves the routes in force all along.
      for (let i = 0; i < 10; i++) expect(await fresh(`${url}/up/${i}`)).toEqual({ status: 200, body: 'upstream' });

      // Fixed, the next retry starts.
      await writeFile(routes, good);
      await until(() => readyCount(gw) === 3, 'the replacement started once the file was fixed', 30_000);
      expect(await childPids(gw.child.pid ?? 0)).toHaveLength(2);
      gw.child.kill('SIGTERM');
      expect(await gw.exited).toBe(0);
    } finally {
      upstream.close();
    }
  }, 90_000);

  it('exits 2 with the reason when the workers refuse their settings, without restarting them', async () => {
    const gw = trellis([
      'gateway',
      '--workers',
      '2',
      '--http-only',
      '--port',
      String(await freePort()),
      '--data-dir',
      join(dir, 'gw-bad'),
      '--routes-file',
      join(dir, 'no-such-routes.yml'),
    ]);
    expect(await gw.exited).toBe(2);
    expect(gw.err()).toMatch(/no-such-routes\.yml/);
    expect(gw.lines().some((l) => l.msg === 'worker exited; restarting it')).toBe(false);
  }, 60_000);
});

describe('--workers elsewhere', () => {
  it('is refused by a server that runs in one process, naming the ones that take it', async () => {
    const t = trellis(['registry', '--workers', '2']);
    expect(await t.exited).toBe(2);
    expect(t.err()).toBe('trellis: registry runs in one process; --workers is for the gateway and the auth server\n');
  });

  it('takes auto, and refuses what is no worker count', async () => {
    const t = trellis(['gateway', '--workers', 'many']);
    expect(await t.exited).toBe(2);
    expect(t.err()).toMatch(/invalid --workers: "many" is not a whole number from 1 to 256, or auto/);
  });
});

interface Jwk extends JsonWebKey {
  kid: string;
}

/** Checks a JWT's RS256 signature against a JWKS, as a resource server would: the key its kid names. */
function verifiedBy(token: string, keys: readonly Jwk[]): string | undefined {
  const [head, payload, signature] = token.split('.');
  const { kid } = JSON.parse(Buffer.from(head ?? '', 'base64url').toString('utf8')) as { kid: string };
  const jwk = keys.find((k) => k.kid === kid);
  if (jwk === undefined) return undefined;
  const ok = verify(
    'sha256',
    Buffer.from(`${head}.${payload}`),
    createPublicKey({ key: jwk, format: 'jwk' }),
    Buffer.from(signature ?? '', 'base64url'),
  );
  return ok ? kid : undefined;
}

describe('trellis auth-server --workers', () => {
  it('starts three workers at once on an empty data dir, and tokens from every worker verify with one JWKS, before and after a key rotation', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const registrationToken = randomBytes(24).toString('base64url');
    const adminToken = randomBytes(24).toString('base64url');
    const as = trellis(
      ['auth-server', '--workers', '3', '--host', '127.0.0.1', '--port', String(port), '--data-dir', join(dir, 'as')],
      { AUTH_REGISTRATION_TOKEN: registrationToken, AUTH_ADMIN_TOKEN: adminToken },
    );
    await until(() => readyCount(as) === 3, 'three workers ready', 60_000);
    expect(as.lines().some((l) => l.msg === 'worker exited; restarting it')).toBe(false);

    const jwks = async (): Promise<Jwk[]> =>
      (JSON.parse((await fresh(`${url}/oauth2/jwks`)).body) as { keys: Jwk[] }).keys;
    // Made once, though three processes started on no keys at all.
    expect(await jwks()).toHaveLength(1);

    const registered = await fresh(`${url}/oauth2/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${registrationToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'workers', grant_types: ['client_credentials'], scope: 'product:read' }),
    });
    expect(registered.status).toBe(201);
    const client = JSON.parse(registered.body) as { client_id: string; client_secret: string };
    const basic = Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64');
    const token = async (): Promise<string> => {
      const res = await fresh(`${url}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=product%3Aread',
      });
      expect(res.status).toBe(200);
      return (JSON.parse(res.body) as { access_token: string }).access_token;
    };

    const keys = await jwks();
    const first = keys[0]?.kid;
    for (let i = 0; i < 15; i++) expect(verifiedBy(await token(), keys)).toBe(first);

    // A rotation lands on one worker; the others hear of it through the primary, not 30 s later.
    const rotated = await fresh(`${url}/admin/keys/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(rotated.status).toBe(201);
    const next = (JSON.parse(rotated.body) as { kid: string }).kid;
    await until(
      () => as.lines().filter((l) => l.msg === 'signing keys reloaded (rotated elsewhere)').length === 2,
      'the other two workers reloaded the keys',
      5000,
    );
    for (let i = 0; i < 15; i++) {
      // Every worker publishes both keys and signs with the new one.
      const published = await jwks();
      expect(published.map((k) => k.kid).sort()).toEqual([first, next].sort());
      expect(verifiedBy(await token(), published)).toBe(next);
    }

    as.child.kill('SIGTERM');
    expect(await as.exited).toBe(0);
  }, 120_000);
});
