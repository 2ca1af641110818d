// The landscape as `npm start` runs it (the CLI's main, in this process), on free ports and a temporary data dir so it
// never collides with a landscape already running; then the README walkthrough's commands, asserted.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortsEnv } from '../../kit/test/support/landscape.ts';
import { main } from '../../cli/src/main.ts';

const CONFIG_REPO = resolve(import.meta.dirname, '../../config-repo');

interface Landscape {
  readonly urls: Record<string, string[]>;
  readonly out: string;
  readonly codes: number[];
  stop(): Promise<void>;
}

async function up(dataDir: string): Promise<Landscape> {
  let out = '';
  let err = '';
  const codes: number[] = [];
  const env = {
    ...freePortsEnv(),
    CONFIG_REPO,
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  };
  // The breaker's state is a health detail: shown when asked for, as in the README's walkthrough.
  const argv = ['up', '--data-dir', dataDir, '--scale', 'review=3', '--log-level', 'silent'];
  await main([...argv, '--health-show-details', 'always'], env, {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    exit: (code) => void codes.push(code),
  });
  if (!out.includes('Trellis is up')) throw new Error(`landscape did not start: ${err}${out}`);
  const urls: Record<string, string[]> = {};
  for (const line of out.split('\n')) {
    const m = /^ {2}([\w#-]+) +((?:https?:\/\/\S+ *)+)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) urls[m[1]] = m[2].trim().split(/ +/);
  }
  return {
    urls,
    out,
    codes,
    async stop() {
      process.emit('SIGTERM');
      for (let i = 0; i < 100 && codes.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    },
  };
}

let dataDir: string;
let landscape: Landscape;
let ca: Agent;
let startMs: number;

function url(name: string, protocol: 'http' | 'https' = 'http'): string {
  const found = landscape.urls[name]?.find((u) => u.startsWith(`${protocol}:`));
  if (found === undefined) throw new Error(`no ${protocol} URL for ${name}`);
  return found;
}

async function call(
  target: string,
  init: { method?: 'GET' | 'POST' | 'DELETE'; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; json: unknown; text: string }> {
  const res = await request(target, { ...init, dispatcher: ca });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text };
}

function devSecret(id: string): string {
  const secret = new RegExp(`development client ${id} / (\\S+)`).exec(landscape.out)?.[1];
  if (secret === undefined) throw new Error(`no secret for ${id} in the summary`);
  return secret;
}

/** Basic credentials of the config server credential this run made, read from the summary as a user would. */
function configAuth(): Record<string, string> {
  const m = /development credential (\S+) \/ (\S+)/.exec(landscape.out);
  if (m?.[1] === undefined || m[2] === undefined) throw new Error('no config server credential in the summary');
  return { authorization: `Basic ${Buffer.from(`${m[1]}:${m[2]}`).toString('base64')}` };
}

async function token(id: 'reader' | 'writer', scope: string): Promise<string> {
  const res = await call(`${url('gateway', 'https')}/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${id}:${devSecret(id)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  });
  expect(res.status).toBe(200);
  return (res.json as { access_token: string }).access_token;
}

interface Composite {
  productId: number;
  name: string;
  reviews: unknown[];
  serviceAddresses: { cmp: string; pro: string; rev: string; rec: string };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trellis-landscape-'));
  startMs = performance.now();
  landscape = await up(dataDir);
  startMs = performance.now() - startMs;
  ca = new Agent({ connect: { ca: await readFile(join(dataDir, 'tls', 'ca.pem'), 'utf8') } });
}, 60_000);

afterAll(async () => {
  await ca.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the landscape of npm start', () => {
  it('starts everything within 5 s and prints the summary with the CA, dev clients and a token command', () => {
    expect(startMs).toBeLessThan(5000);
    for (const name of [
      'registry',
      'config-server',
      'auth-server',
      'gateway',
      'product',
      'recommendation',
      'review#3',
      'product-composite',
    ]) {
      expect(landscape.urls[name], name).toBeDefined();
    }
    expect(landscape.out).toContain(`Local CA: ${join(dataDir, 'tls', 'ca.pem')}`);
    expect(landscape.out).toMatch(/development client writer \/ \S+/);
    expect(landscape.out).toMatch(
      /TOKEN=\$\(curl -s --cacert \S+ https:\/\/localhost:\d+\/oauth2\/token -u writer:\S+ /,
    );
    expect(landscape.out).toMatch(/development credential landscape \/ \S+/);
    expect(landscape.out).toMatch(
      /curl -s --cacert \S+ https:\/\/localhost:\d+\/config\/product\/default -u landscape:\S+ /,
    );
  });

  it('answers health through the gateway', async () => {
    const res = await call(`${url('gateway')}/actuator/health`);
    expect(res.status).toBe(200);
    expect((res.json as { status: string }).status).toBe('UP');
  });

  it('lists every instance in the registry, three of review, directly and through the gateway', async () => {
    for (const base of [`${url('registry')}/eureka`, `${url('gateway')}/eureka/api`]) {
      const res = await call(`${base}/apps`, { headers: { accept: 'application/json' } });
      expect(res.status).toBe(200);
      const apps = (res.json as { applications: { application: { name: string; instance: unknown[] }[] } }).applications
        .application;
      const count = Object.fromEntries(apps.map((a) => [a.name, a.instance.length]));
      expect(count).toMatchObject({ PRODUCT: 1, RECOMMENDATION: 1, REVIEW: 3, 'PRODUCT-COMPOSITE': 1, GATEWAY: 1 });
    }
    const dashboard = await call(`${url('gateway')}/eureka/web`);
    expect(dashboard.status).toBe(200);
    expect(dashboard.text).toContain('REVIEW');
  });

  it('serves the composite over HTTPS through the gateway with a token, rotating over the review instances', async () => {
    const unauthenticated = await call(`${url('gateway', 'https')}/product-composite/1`);
    expect(unauthenticated.status).toBe(401);
    const bearer = { authorization: `Bearer ${await token('reader', 'product:read')}` };
    const revs = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await call(`${url('gateway', 'https')}/product-composite/1`, { headers: bearer });
      expect(res.status).toBe(200);
      const body = res.json as Composite;
      expect(body).toMatchObject({ productId: 1, name: 'Trellis starter kit' });
      expect(body.serviceAddresses.pro).toMatch(/:\d+$/);
      revs.add(body.serviceAddresses.rev);
    }
    expect(revs.size).toBe(3);
  });

  it('answers invalid ids with 422 or 400 and unknown ones with 404, each with a message', async () => {
    const bearer = { authorization: `Bearer ${await token('reader', 'product:read')}` };
    const base = `${url('gateway', 'https')}/product-composite`;
    for (const [id, status] of [
      ['0', 422],
      ['-1', 422],
      ['abc', 400],
      ['999', 404],
    ] as const) {
      const res = await call(`${base}/${id}`, { headers: bearer });
      expect(res.status, id).toBe(status);
      expect((res.json as { message: string }).message).toBeTruthy();
    }
  });

  it('serves each service its configuration with the {cipher} secret decrypted, and encrypts', async () => {
    const config = url('config-server', 'https');
    // Decrypted secrets are never served to an anonymous caller, not even in development.
    const anonymous = await call(`${config}/product/default`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).not.toContain('product-dev-secret');
    const env = await call(`${config}/product/default`, { headers: configAuth() });
    expect(env.status).toBe(200);
    expect(env.text).toContain('product-dev-secret');
    const encrypted = await call(`${config}/encrypt`, {
      method: 'POST',
      body: 'hello',
      headers: { 'content-type': 'text/plain', ...configAuth() },
    });
    expect(encrypted.status).toBe(200);
    const decrypted = await call(`${config}/decrypt`, {
      method: 'POST',
      body: encrypted.text,
      headers: { 'content-type': 'text/plain', ...configAuth() },
    });
    expect(decrypted.text).toBe('hello');
    const info = await call(`${url('product')}/actuator/info`);
    expect(info.json).toMatchObject({ config: { secretLoaded: true } });
  });

  it('serves /config/** and /config/encrypt through the gateway, which trusts the local CA upstream', async () => {
    const gateway = url('gateway', 'https');
    expect((await call(`${gateway}/config/product/default`)).status).toBe(401);
    const env = await call(`${gateway}/config/product/default`, { headers: configAuth() });
    expect(env.status).toBe(200);
    expect(env.text).toContain('product-dev-secret');
    const encrypted = await call(`${gateway}/config/encrypt`, {
      method: 'POST',
      body: 'through the edge',
      headers: { 'content-type': 'text/plain', ...configAuth() },
    });
    expect(encrypted.status).toBe(200);
    // Decrypted by the config server directly: the gateway passed the body and the cipher text through unchanged.
    const decrypted = await call(`${url('config-server', 'https')}/decrypt`, {
      method: 'POST',
      body: encrypted.text,
      headers: { 'content-type': 'text/plain', ...configAuth() },
    });
    expect(decrypted.status).toBe(200);
    expect(decrypted.text).toBe('through the edge');
  });

  it('creates a product through the gateway and each core service applies its event', async () => {
    const bearer = {
      authorization: `Bearer ${await token('writer', 'product:read product:write')}`,
      'content-type': 'application/json',
    };
    const created = await call(`${url('gateway', 'https')}/product-composite`, {
      method: 'POST',
      headers: bearer,
      body: JSON.stringify({
        productId: 42,
        name: 'Espalier frame',
        weight: 7,
        recommendations: [{ recommendationId: 1, author: 'Ada', rate: 5, content: 'Tidy' }],
        reviews: [{ reviewId: 1, author: 'Grace', subject: 'Neat', content: 'Easy to train along' }],
      }),
    });
    expect(created.status).toBe(202);
    let product: { status: number; json: unknown } = { status: 0, json: undefined };
    for (let i = 0; i < 50; i++) {
      product = await call(`${url('product')}/product/42`);
      if (product.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(product.json).toMatchObject({ productId: 42, name: 'Espalier frame', weight: 7 });
    await expect
      .poll(async () => (await call(`${url('recommendation')}/recommendation?productId=42`)).json)
      .toHaveLength(1);
    await expect.poll(async () => (await call(`${url('review#2')}/review?productId=42`)).json).toHaveLength(1);
    const composite = await call(`${url('gateway', 'https')}/product-composite/42`, { headers: bearer });
    expect((composite.json as Composite).reviews).toHaveLength(1);
  });

  it('refuses a revoked writer token on writes through the gateway at once, while a fresh one still creates', async () => {
    const product = JSON.stringify({ productId: 43, name: 'Trellis clip', weight: 1 });
    const revoked = await token('writer', 'product:read product:write');
    // As the README's revocation step does it: through the gateway, with the writer's own credential.
    const revocation = await call(`${url('gateway', 'https')}/oauth2/revoke`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`writer:${devSecret('writer')}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: revoked, token_type_hint: 'access_token' }).toString(),
    });
    expect(revocation.status).toBe(200);
    const refused = await call(`${url('gateway', 'https')}/product-composite`, {
      method: 'POST',
      headers: { authorization: `Bearer ${revoked}`, 'content-type': 'application/json' },
      body: product,
    });
    expect(refused.status).toBe(401);
    expect((await call(`${url('product')}/product/43`)).status).toBe(404);
    const fresh = await call(`${url('gateway', 'https')}/product-composite`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await token('writer', 'product:read product:write')}`,
        'content-type': 'application/json',
      },
      body: product,
    });
    expect(fresh.status).toBe(202);
  });

  it('refuses the demo delay and faultPercent to a read token: they would open the breaker for every caller', async () => {
    const reader = { authorization: `Bearer ${await token('reader', 'product:read')}` };
    for (const query of ['delay=3', 'faultPercent=100', 'delay=0&faultPercent=0']) {
      const res = await call(`${url('gateway', 'https')}/product-composite/1?${query}`, { headers: reader });
      expect(res.status, query).toBe(403);
    }
    const health = await call(`${url('product-composite')}/actuator/health`);
    expect(health.json).toMatchObject({
      components: { circuitBreakers: { details: { product: { details: { state: 'CLOSED' } } } } },
    });
  });

  it('opens the circuit breaker on product after slow calls, answers from the fallback, and health shows it', async () => {
    const bearer = { authorization: `Bearer ${await token('writer', 'product:read product:write')}` };
    const composite = url('product-composite');
    for (let i = 0; i < 3; i++) {
      const slow = await call(`${composite}/product-composite/1?delay=3`, { headers: bearer });
      expect(slow.status).toBe(504);
    }
    const fast = await call(`${composite}/product-composite/1`, { headers: bearer });
    expect(fast.status).toBe(200);
    expect((fast.json as Composite).name).toBe('Fallback product1');
    const health = await call(`${composite}/actuator/health`);
    expect(health.json).toMatchObject({
      components: { circuitBreakers: { details: { product: { details: { state: 'OPEN' } } } } },
    });
  }, 20_000);

  it('stops on SIGTERM, deregistering; a second start reuses the data', async () => {
    const before = landscape.urls;
    await landscape.stop();
    expect(landscape.codes).toEqual([0]);
    landscape = await up(dataDir);
    const res = await call(`${url('registry')}/eureka/apps`, { headers: { accept: 'application/json' } });
    const ids = (
      res.json as { applications: { application: { instance: { instanceId: string }[] }[] } }
    ).applications.application.flatMap((a) => a.instance.map((i) => i.instanceId));
    const oldPorts = Object.values(before)
      .flat()
      .map((u) => `:${new URL(u).port}`);
    expect(ids.filter((id) => oldPorts.some((p) => id.endsWith(p)))).toEqual([]);
    const product = await call(`${url('product')}/product/42`);
    expect(product.json).toMatchObject({ productId: 42, name: 'Espalier frame' });
    await landscape.stop();
    expect(landscape.codes).toEqual([0]);
  }, 30_000);
});
