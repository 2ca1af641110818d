// The hijack of issue "Trust at the edge", against the landscape `trellis up` starts (the CLI's main in this process,
// every port 0): an anonymous caller must not be able to register a listener of theirs as product-composite, renew
// or cancel the real instances, through the gateway or at the registry itself, while the landscape's own services
// register as before.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortsEnv } from '../../kit/test/support/landscape.ts';
import { main } from '../src/main.ts';

const CONFIG_REPO = resolve(import.meta.dirname, '../../config-repo');
const SERVICES = ['PRODUCT', 'RECOMMENDATION', 'REVIEW', 'PRODUCT-COMPOSITE', 'GATEWAY'];

let dataDir: string;
let out = '';
let err = '';
const codes: number[] = [];
let ca: Agent;

function url(name: string, protocol: 'http' | 'https' = 'http'): string {
  const line = out.split('\n').find((l) => l.startsWith(`  ${name} `)) ?? '';
  const found = line.split(/ +/).find((u) => u.startsWith(`${protocol}://`));
  if (found === undefined) throw new Error(`no ${protocol} URL for ${name} in:\n${out}`);
  return found;
}

async function call(
  target: string,
  init: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string }> {
  const res = await request(target, { ...init, dispatcher: ca });
  return { status: res.statusCode, text: await res.body.text() };
}

interface Instance {
  instanceId: string;
  hostName: string;
  port: { $: number };
  status: string;
}

async function registered(): Promise<Record<string, Instance[]>> {
  const res = await call(`${url('registry')}/eureka/apps`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(200);
  const apps = (JSON.parse(res.text) as { applications: { application: { name: string; instance: Instance[] }[] } })
    .applications.application;
  return Object.fromEntries(apps.map((a) => [a.name, a.instance]));
}

/** What a forged registration looks like: product-composite's name, the attacker's listener. */
function forged(instanceId: string): string {
  return JSON.stringify({
    instance: {
      instanceId,
      app: 'PRODUCT-COMPOSITE',
      hostName: '127.0.0.1',
      ipAddr: '127.0.0.1',
      status: 'UP',
      port: { $: 9, '@enabled': 'true' },
      vipAddress: 'product-composite',
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
    },
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trellis-up-'));
  const env = { ...freePortsEnv(), CONFIG_REPO };
  await main(['up', '--data-dir', dataDir, '--log-level', 'silent'], env, {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    exit: (code) => void codes.push(code),
  });
  if (!out.includes('Trellis is up')) throw new Error(`landscape did not start: ${err}${out}`);
  ca = new Agent({ connect: { ca: await readFile(join(dataDir, 'tls', 'ca.pem'), 'utf8') } });
  // Registration runs in the background of each service's start: wait until all of them are listed UP.
  for (let i = 0; i < 100; i++) {
    const apps = await registered();
    if (SERVICES.every((name) => apps[name]?.every((instance) => instance.status === 'UP') === true)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  process.emit('SIGTERM');
  for (let i = 0; i < 100 && codes.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  await ca.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('trellis up: the registry is never writable anonymously', () => {
  it('registers every service of the landscape with the credential it handed them, and prints it', async () => {
    const apps = await registered();
    for (const name of SERVICES) {
      expect(
        apps[name]?.map((i) => i.status),
        name,
      ).toEqual(['UP']);
    }
    expect(out).toMatch(/registry: development write credential registry \/ [\w-]{24} /);
    // The credential travels in their registry URL: none of them shows it back.
    const secret = /development write credential registry \/ (\S+)/.exec(out)?.[1] ?? '';
    for (const name of ['gateway', 'product', 'recommendation', 'review', 'product-composite']) {
      for (const path of ['/actuator/health', '/actuator/info']) {
        const res = await call(`${url(name)}${path}`);
        expect(res.text, `${name}${path}`).not.toContain(secret);
      }
    }
  });

  it('answers writes through the gateway eureka routes with no route (404/405), and still serves their reads', async () => {
    const before = await registered();
    const real = before['PRODUCT-COMPOSITE']?.[0]?.instanceId ?? '';
    expect(real).not.toBe('');
    const json = { 'content-type': 'application/json' };
    for (const gateway of [url('gateway'), url('gateway', 'https')]) {
      const attempts = [
        call(`${gateway}/eureka/api/apps/PRODUCT-COMPOSITE`, { method: 'POST', headers: json, body: forged('evil') }),
        call(`${gateway}/eureka/api/v2/apps/product-composite`, { method: 'POST', headers: json, body: forged('e2') }),
        call(`${gateway}/eureka/api/apps/PRODUCT-COMPOSITE/${encodeURIComponent(real)}`, { method: 'DELETE' }),
        call(`${gateway}/eureka/api/apps/PRODUCT-COMPOSITE/${encodeURIComponent(real)}`, { method: 'PUT' }),
        call(`${gateway}/eureka/api/apps/PRODUCT-COMPOSITE/${encodeURIComponent(real)}/status?value=DOWN`, {
          method: 'PUT',
        }),
        call(`${gateway}/eureka/api/peerreplication/batch`, { method: 'POST', headers: json, body: '{}' }),
        call(`${gateway}/eureka/web`, { method: 'POST', headers: json, body: '{}' }),
      ];
      // No route (404), or 405 should the gateway come to name the methods a path takes.
      for (const res of await Promise.all(attempts)) expect([404, 405]).toContain(res.status);
      expect((await call(`${gateway}/eureka/api/apps`, { headers: { accept: 'application/json' } })).status).toBe(200);
      expect((await call(`${gateway}/eureka/web`)).status).toBe(200);
    }
    const after = await registered();
    expect(after['PRODUCT-COMPOSITE']?.map((i) => i.instanceId)).toEqual([real]);
  });

  it('answers anonymous writes at the registry itself with 401, and takes them with the printed credential', async () => {
    const registry = `${url('registry')}/eureka`;
    const json = { 'content-type': 'application/json' };
    const real = (await registered())['PRODUCT-COMPOSITE']?.[0]?.instanceId ?? '';
    const anonymous = [
      await call(`${registry}/apps/PRODUCT-COMPOSITE`, { method: 'POST', headers: json, body: forged('evil') }),
      await call(`${registry}/apps/PRODUCT-COMPOSITE/${encodeURIComponent(real)}`, { method: 'DELETE' }),
    ];
    expect(anonymous.map((r) => r.status)).toEqual([401, 401]);
    expect((await registered())['PRODUCT-COMPOSITE']?.map((i) => i.instanceId)).toEqual([real]);

    const [, user = '', password = ''] = /development write credential (\S+) \/ (\S+)/.exec(out) ?? [];
    const auth = { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
    const probe = forged('probe').replace('PRODUCT-COMPOSITE', 'PROBE');
    expect(
      (await call(`${registry}/apps/PROBE`, { method: 'POST', headers: { ...json, ...auth }, body: probe })).status,
    ).toBe(204);
    expect((await call(`${registry}/apps/PROBE/probe`, { method: 'DELETE', headers: auth })).status).toBe(200);
  });
});

describe('trellis up: the gateway route API is never open', () => {
  /** The writer client's token request of the README would go to this route's listener. */
  const steal = JSON.stringify({
    uri: 'http://127.0.0.1:9',
    order: -100,
    predicates: [{ name: 'Path', args: { _genkey_0: '/oauth2/token' } }],
    filters: [{ name: 'Public', args: {} }],
  });
  const json = { 'content-type': 'application/json' };

  it('refuses anonymous route changes on 8080 and 8443 (any spelling), and takes them with the printed credential', async () => {
    const [, user = '', password = ''] = /development admin credential (\S+) \/ (\S+)/.exec(out) ?? [];
    expect(password).toMatch(/^[\w-]{24}$/);
    const admin = { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
    for (const gateway of [url('gateway'), url('gateway', 'https')]) {
      for (const path of ['/actuator/gateway/routes', '/actuator/gateway/%72outes', '/actuator/./gateway/routes']) {
        const created = await call(`${gateway}${path}/steal`, { method: 'POST', headers: json, body: steal });
        expect(created.status, `${gateway}${path}`).toBe(401);
        expect((await call(`${gateway}${path}`)).status).toBe(401);
      }
      const listed = await call(`${gateway}/actuator/gateway/routes`, { headers: admin });
      expect(listed.status).toBe(200);
      expect((JSON.parse(listed.text) as { route_id: string }[]).map((r) => r.route_id)).not.toContain('steal');
    }
    // The printed credential manages routes (a harmless one, removed again).
    const probe = JSON.stringify({ uri: 'http://127.0.0.1:9', predicates: ['Path=/probe-route/**'] });
    const gateway = url('gateway');
    expect(
      (
        await call(`${gateway}/actuator/gateway/routes/probe`, {
          method: 'POST',
          headers: { ...json, ...admin },
          body: probe,
        })
      ).status,
    ).toBe(201);
    expect((await call(`${gateway}/actuator/gateway/routes/probe`, { method: 'DELETE', headers: admin })).status).toBe(
      200,
    );
  });
});

describe('trellis up: what it exposes', () => {
  /** Local addresses of the listening TCP sockets on `port`, read from /proc (no packet leaves the process). */
  async function listeningAddresses(port: number): Promise<string[]> {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const rows = [
      ...(await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1),
      ...(await readFile('/proc/net/tcp6', 'utf8').catch(() => '')).split('\n').slice(1),
    ];
    // Columns: sl local_address rem_address st …; state 0A is LISTEN.
    return rows
      .map((r) => r.trim().split(/\s+/))
      .filter((cols) => cols[3] === '0A' && cols[1]?.endsWith(`:${hexPort}`) === true)
      .map((cols) => cols[1]?.split(':')[0] ?? '');
  }

  it('listens on 127.0.0.1 only, so nothing of the landscape is reachable from another machine', async () => {
    expect(out).toContain('listening on 127.0.0.1 only');
    for (const name of ['registry', 'config-server', 'auth-server', 'gateway', 'product', 'product-composite']) {
      for (const protocol of ['http', 'https'] as const) {
        let target: string;
        try {
          target = url(name, protocol);
        } catch {
          continue;
        }
        const addresses = await listeningAddresses(Number(new URL(target).port));
        // 0100007F is 127.0.0.1 as /proc prints it; 00000000 (or ::) would be every interface.
        expect(addresses, `${name} ${protocol}`).toEqual(['0100007F']);
      }
    }
  });
});
