// What the registration client sends and when, against a scripted node:http server that records requests. The
// registry's side of these exchanges is tested against the real registry in discovery.e2e.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import {
  createEurekaRegistration,
  describeInstance,
  registrationBody,
  type EurekaRegistration,
  type EurekaRegistrationOptions,
} from '../../src/discovery/registration.ts';
import { discoveryHealthIndicator } from '../../src/discovery/health.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';
import { eventually, ManualClock, SPRING_REGISTRATION, startScriptedServer, type ScriptedServer } from './helpers.ts';
import { freePort } from '../../../kit/src/free-port.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function registry(
  script: Parameters<typeof startScriptedServer>[0] = eurekaLike(),
  port = 0,
): Promise<ScriptedServer> {
  const server = await startScriptedServer(script, port);
  cleanups.push(() => server.close());
  return server;
}

/** Answers as Eureka does for a known instance: 204 on register, 200 on heartbeat and cancel. */
function eurekaLike(heartbeatStatus: () => number = () => 200): Parameters<typeof startScriptedServer>[0] {
  return (req, res) => {
    if (req.method === 'POST') res.writeHead(204).end();
    else if (req.method === 'PUT') res.writeHead(heartbeatStatus()).end();
    else res.writeHead(200).end();
  };
}

function register(
  options: Partial<EurekaRegistrationOptions> & Pick<EurekaRegistrationOptions, 'registryUrl' | 'logger'>,
): EurekaRegistration {
  const registration = createEurekaRegistration({
    app: 'review',
    port: 7003,
    hostName: 'localhost',
    ipAddr: '127.0.0.1',
    ...options,
  });
  cleanups.push(() => registration.stop());
  return registration;
}

const isPost = (r: { method: string }) => r.method === 'POST';
const isPut = (r: { method: string }) => r.method === 'PUT';

describe('registration body', () => {
  it('is byte for byte the body Spring Cloud Netflix sends for the same instance', () => {
    const d = describeInstance({
      registryUrl: 'http://localhost:8761/eureka/',
      app: 'webservice',
      hostName: 'host.docker.internal',
      ipAddr: '192.168.2.1',
      port: 8082,
      logger: captureLogger().logger,
    });
    const body = registrationBody(d, 'UP', { lastUpdated: 1630906180645, lastDirty: 1630906182808 });
    expect(JSON.stringify(body)).toBe(JSON.stringify(JSON.parse(SPRING_REGISTRATION)));
  });

  it('points the page URLs at the service kit actuator and enables the secure port when there is one', () => {
    const d = describeInstance({
      registryUrl: 'http://r/eureka',
      app: 'gateway',
      hostName: 'gw',
      ipAddr: '10.0.0.1',
      securePort: 8443,
      metadata: { zone: 'z1' },
      logger: captureLogger().logger,
    });
    expect(d.instanceId).toBe('gw:gateway:8443');
    expect(d.healthCheckUrl).toBe('https://gw:8443/actuator/health');
    expect(d.statusPageUrl).toBe('https://gw:8443/actuator/info');
    const body = registrationBody(d, 'STARTING', { lastUpdated: 1, lastDirty: 1 }).instance;
    expect(body['port']).toEqual({ $: 8080, '@enabled': 'false' });
    expect(body['securePort']).toEqual({ $: 8443, '@enabled': 'true' });
    expect(body['metadata']).toEqual({ 'management.port': '8443', zone: 'z1' });
  });

  it('refuses options without a port, with a bad lease or with an app name that cannot be a path segment', () => {
    const base = { registryUrl: 'http://r/eureka', logger: captureLogger().logger };
    expect(() => describeInstance({ ...base, app: 'a' })).toThrow(/port/);
    expect(() => describeInstance({ ...base, app: 'a', port: 1, leaseRenewalIntervalSecs: 0 })).toThrow(/leaseRenewal/);
    expect(() => describeInstance({ ...base, app: 'a/b', port: 1 })).toThrow(/app name/);
    expect(() => createEurekaRegistration({ ...base, registryUrl: ' , ', app: 'a', port: 1 })).toThrow(
      /no registry URL/,
    );
  });
});

describe('createEurekaRegistration', () => {
  it('registers as STARTING, then registers again as UP with a newer lastDirtyTimestamp when marked up', async () => {
    const server = await registry();
    const clock = new ManualClock();
    const reg = register({ registryUrl: `${server.url}/eureka/`, logger: captureLogger().logger, clock });
    reg.start();
    await reg.whenSynced();
    clock.advance(5);
    reg.markUp();
    await reg.whenSynced();
    const posts = server.requests.filter(isPost);
    expect(posts.map((p) => p.url)).toEqual(['/eureka/apps/REVIEW', '/eureka/apps/REVIEW']);
    const [first, second] = posts.map((p) => (JSON.parse(p.body) as { instance: Record<string, unknown> }).instance);
    expect(first?.['status']).toBe('STARTING');
    expect(second?.['status']).toBe('UP');
    expect(Number(second?.['lastDirtyTimestamp'])).toBeGreaterThan(Number(first?.['lastDirtyTimestamp']));
    expect(posts[0]?.headers['content-type']).toBe('application/json');
    expect(posts[0]?.headers['accept']).toBe('application/json');
    expect(reg.snapshot()).toMatchObject({ state: 'registered', status: 'UP', failures: 0 });
  });

  it('heartbeats once per renewal interval with Spring query parameters, not before', async () => {
    const server = await registry();
    const clock = new ManualClock();
    const reg = register({
      registryUrl: `${server.url}/eureka`,
      logger: captureLogger().logger,
      clock,
      initialStatus: 'UP',
      leaseRenewalIntervalSecs: 10,
    });
    reg.start();
    await reg.whenSynced();
    expect(clock.pending()).toEqual([10_000]);
    clock.advance(9_999);
    await new Promise((r) => setTimeout(r, 30));
    expect(server.requests.filter(isPut)).toHaveLength(0);
    clock.advance(1);
    const [beat] = await server.waitFor(1, isPut);
    const dirty = (JSON.parse(server.requests[0]?.body ?? '{}') as { instance: { lastDirtyTimestamp: number } })
      .instance.lastDirtyTimestamp;
    expect(beat?.url).toBe(`/eureka/apps/REVIEW/localhost:review:7003?status=UP&lastDirtyTimestamp=${dirty}`);
    await eventually(() => clock.pending().length === 1, 2000, 'next heartbeat scheduled');
    expect(clock.pending()).toEqual([10_000]);
    clock.advance(10_000);
    await server.waitFor(2, isPut);
  });

  it('registers again when a heartbeat answers 404', async () => {
    let heartbeat = 200;
    const server = await registry(eurekaLike(() => heartbeat));
    const clock = new ManualClock();
    const { logger, lines } = captureLogger();
    const reg = register({ registryUrl: `${server.url}/eureka/`, logger, clock, initialStatus: 'UP' });
    reg.start();
    await reg.whenSynced();
    heartbeat = 404;
    clock.advance(30_000);
    await server.waitFor(2, isPost);
    expect(server.requests.map((r) => r.method)).toEqual(['POST', 'PUT', 'POST']);
    expect(lines.filter((l) => l['msg'] === 'registry does not know this instance; registering again')).toHaveLength(1);
  });

  it('cancels with DELETE on stop, and only once', async () => {
    const server = await registry();
    const reg = register({
      registryUrl: `${server.url}/eureka/`,
      logger: captureLogger().logger,
      clock: new ManualClock(),
    });
    reg.start();
    await reg.whenSynced();
    await Promise.all([reg.stop(), reg.stop()]);
    const deletes = server.requests.filter((r) => r.method === 'DELETE');
    expect(deletes.map((r) => r.url)).toEqual(['/eureka/apps/REVIEW/localhost:review:7003']);
    expect(reg.snapshot().state).toBe('stopped');
  });

  it('keeps retrying a registry that is down with capped backoff and logs one line per state change', async () => {
    const port = await freePort();
    const clock = new ManualClock();
    const { logger, lines } = captureLogger();
    const reg = register({
      registryUrl: `http://127.0.0.1:${port}/eureka/`,
      logger,
      clock,
      leaseRenewalIntervalSecs: 5,
      retry: { initialDelayMs: 1000 },
    });
    reg.start();
    const delays: number[] = [];
    for (let failures = 1; failures <= 5; failures++) {
      await eventually(() => reg.snapshot().failures === failures, 3000, `failure ${failures}`);
      await eventually(() => clock.pending().length === 1, 2000, 'retry scheduled');
      delays.push(clock.pending()[0] ?? -1);
      clock.advance(delays.at(-1) ?? 0);
    }
    // 1 s, 2 s, 4 s, then capped at the 5 s renewal interval.
    expect(delays).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(reg.snapshot().state).toBe('unreachable');
    const server = await registry(eurekaLike(), port);
    await reg.whenSynced();
    expect(server.requests.filter(isPost)).toHaveLength(1);
    const messages = lines.map((l) => l['msg']);
    expect(messages.filter((m) => m === 'registry unreachable; retrying with backoff')).toHaveLength(1);
    expect(messages.filter((m) => m === 'registered with the registry')).toHaveLength(1);
    expect(lines.find((l) => l['msg'] === 'registered with the registry')?.['failedAttempts']).toBeGreaterThanOrEqual(
      5,
    );
  });

  it('reports an unreachable registry as UNKNOWN discovery health, and stops without a pointless cancel', async () => {
    const port = await freePort();
    const { logger, lines } = captureLogger();
    const reg = register({ registryUrl: `http://127.0.0.1:${port}/eureka/`, logger, clock: new ManualClock() });
    const indicator = discoveryHealthIndicator({ registration: reg });
    reg.start();
    await eventually(() => reg.snapshot().state === 'unreachable', 3000, 'unreachable');
    const health = await indicator();
    expect(health.status).toBe('UNKNOWN');
    expect(health.details?.['reason']).toBe('registry unreachable, 1 failed attempts');
    await reg.stop();
    expect(lines.map((l) => l['msg'])).not.toContain('could not cancel the registration');
    expect(await indicator()).toMatchObject({ status: 'UNKNOWN', details: { reason: 'registration cancelled' } });
  });

  it('fails over to the next registry URL and stays there', async () => {
    const port = await freePort();
    const server = await registry();
    const clock = new ManualClock();
    const reg = register({
      registryUrl: `http://127.0.0.1:${port}/eureka/,${server.url}/eureka/`,
      logger: captureLogger().logger,
      clock,
      initialStatus: 'UP',
    });
    reg.start();
    await reg.whenSynced();
    expect(reg.snapshot().registry).toBe(`${server.url}/eureka/`);
    clock.advance(30_000);
    await server.waitFor(1, isPut);
    expect(server.requests.map((r) => r.method)).toEqual(['POST', 'PUT']);
  });

  it('sends basic credentials from the URL and bearer tokens from a function, and never logs them', async () => {
    const server = await registry();
    const { logger, text } = captureLogger();
    const basic = register({
      registryUrl: `http://eureka:s3cret@127.0.0.1:${server.port}/eureka/`,
      logger,
      clock: new ManualClock(),
    });
    basic.start();
    await basic.whenSynced();
    expect(server.requests[0]?.headers['authorization']).toBe(
      `Basic ${Buffer.from('eureka:s3cret').toString('base64')}`,
    );
    expect(basic.snapshot().registry).toBe(`http://127.0.0.1:${server.port}/eureka/`);
    let n = 0;
    const bearer = register({
      registryUrl: `${server.url}/eureka/`,
      app: 'product',
      logger,
      clock: new ManualClock(),
      credentials: { token: () => Promise.resolve(`token-${++n}`) },
    });
    bearer.start();
    await bearer.whenSynced();
    expect(server.requests.at(-1)?.headers['authorization']).toBe('Bearer token-1');
    expect(text()).not.toContain('s3cret');
  });

  it('reports a refused registration once, with the reason, and keeps trying', async () => {
    let answer = 400;
    const server = await registry((req, res) =>
      res.writeHead(req.method === 'POST' ? answer : 200).end('Missing hostName'),
    );
    const clock = new ManualClock();
    const { logger, lines } = captureLogger();
    const reg = register({ registryUrl: `${server.url}/eureka/`, logger, clock });
    reg.start();
    await eventually(() => reg.snapshot().state === 'rejected', 3000, 'rejected');
    expect(reg.snapshot().lastError).toBe('HTTP 400 on register: Missing hostName');
    clock.advance(1000);
    await eventually(() => reg.snapshot().failures === 2, 3000, 'second failure');
    answer = 204;
    clock.advance(2000);
    await reg.whenSynced();
    expect(lines.filter((l) => l['level'] === 50)).toHaveLength(1);
  });
});
