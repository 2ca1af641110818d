// A real Netflix Eureka server (interop/eureka-server, Spring Cloud's own) and a Trellis registry as peers of each
// other: what either is told reaches the other through Eureka's replication protocol, a Spring Boot client of the
// Eureka server is seen and called by Node clients of Trellis, and a restarted node catches up from the other.
// This is the migration path for Eureka users: add Trellis as a peer, move the clients, retire the old nodes.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createDiscoveryClient, createEurekaRegistration, createLoadBalancedHttp } from '@trellis/clients/discovery';
import type { DiscoveryClient, EurekaRegistration, LoadBalancedHttp } from '@trellis/clients/discovery';
import { createLogger, loadSettings, type Logger, type Running } from '@trellis/kit';
import { registryComponent } from '@trellis/registry';
import { Eureka } from 'eureka-js-client';
import { afterAll, describe, expect, it } from 'vitest';
import {
  eventually,
  freePort,
  killAll,
  mavenPackage,
  requireJdkAndMaven,
  setUpReported,
  START_TIMEOUT_MS,
  startJava,
  stopJava,
  tail,
  waitUntilUp,
  type JavaApp,
} from './support/jvm.ts';

const EUREKA_PROJECT = fileURLToPath(new URL('../eureka-server/', import.meta.url));
const EUREKA_JAR = join(EUREKA_PROJECT, 'target', 'eureka-server.jar');
const SPRING_PROJECT = fileURLToPath(new URL('../spring-boot/', import.meta.url));
const SPRING_JAR = join(SPRING_PROJECT, 'target', 'spring-interop.jar');
const SPRING_APP = 'SPRING-INTEROP';
const TEST_TIMEOUT_MS = 60_000;
/** How long a change may take to reach the other side: a batch waits up to 500 ms on either, plus the reads. */
const REPLICATED_WITHIN_MS = 10_000;

const work = mkdtempSync(join(tmpdir(), 'eureka-peering-'));
const trellisLog = join(work, 'trellis.log');
const trellisLogStream: WriteStream = createWriteStream(trellisLog, { flags: 'a' });
// The Trellis node's log goes to a file that failures quote, as the JVMs' logs are.
const logger: Logger = createLogger({ name: 'eureka-peering', level: 'info', destination: trellisLogStream });

// Trellis writes are protected, as `trellis up` runs it: the Eureka node replicates with the same credential our
// requests use, given as user info in its defaultZone (Eureka's replication client sends it as Basic).
const peerUser = 'eureka-peer';
const peerPassword = randomBytes(18).toString('base64url');
const trellisWrite = { authorization: `Basic ${Buffer.from(`${peerUser}:${peerPassword}`).toString('base64')}` };

let trellisPort = 0;
let eurekaPort = 0;
let trellisUrl = '';
let eurekaUrl = '';
let trellis: Running | undefined;
let eureka: JavaApp | undefined;
let eurekaStarts = 0;
let spring: JavaApp | undefined;
let springUrl = '';
/** Resolves once the Spring app reports UP: it starts in set-up and the first tests run meanwhile. */
let springUp: Promise<void> = Promise.resolve();
const closers: (() => Promise<void>)[] = [];

/**
 * The Trellis node as `trellis registry --peers http://eureka:port/eureka` runs it, on its fixed port (the Eureka
 * node's defaultZone names it), with a short eviction sweep so lease tests take seconds.
 */
async function startTrellis(dataDir: string): Promise<Running> {
  const settings = loadSettings(registryComponent.settings, {
    argv: [
      ...['--port', String(trellisPort), '--host', '127.0.0.1', '--data-dir', dataDir],
      ...['--peers', `http://127.0.0.1:${eurekaPort}/eureka`, '--peer-sync-timeout-ms', '3000'],
      ...['--eviction-interval-ms', '1000'],
    ],
    env: { REGISTRY_WRITE_AUTH: `basic:${peerUser}:${peerPassword}` },
  });
  return registryComponent.start(settings, { logger, env: {} });
}

/**
 * Spring Cloud's Eureka server in its `peer` profile, replicating with the Trellis node. Its response cache would
 * hold reads for up to 30 s (read-only cache) or 180 s (read-write cache, which renewals do not invalidate): this test
 * turns the read-only one off and lets read-write entries live 1 s, so a read shows what the registry holds now.
 * Evictions run every second, so a lease kept only by replicated renewals is really put to the test.
 */
async function startEureka(): Promise<JavaApp> {
  const app = startJava({
    args: [
      '-jar',
      EUREKA_JAR,
      `--server.port=${eurekaPort}`,
      '--server.address=127.0.0.1',
      '--spring.profiles.active=peer',
      '--eureka.server.use-read-only-response-cache=false',
      '--eureka.server.response-cache-auto-expiration-in-seconds=1',
      '--eureka.server.eviction-interval-timer-in-ms=1000',
      '--logging.level.com.netflix.eureka=INFO',
      // It logs its peers' URLs with their user info (our credential) at INFO, and failures quote this log.
      '--logging.level.com.netflix.eureka.cluster.PeerEurekaNodes=WARN',
    ],
    cwd: work,
    log: join(work, `eureka-${++eurekaStarts}.log`),
    // The defaultZone carries the credential: in the environment, not on the command line `ps` shows.
    env: {
      SPRING_APPLICATION_JSON: JSON.stringify({
        eureka: {
          client: {
            'service-url': { defaultZone: `http://${peerUser}:${peerPassword}@127.0.0.1:${trellisPort}/eureka/` },
          },
        },
      }),
    },
  });
  await eventually(
    'the Eureka server to serve /eureka/apps',
    async () => {
      const res = await fetch(`${eurekaUrl}/eureka/apps`, { headers: { accept: 'application/json' } });
      await res.body?.cancel();
      return res.status === 200 ? true : undefined;
    },
    { app, timeoutMs: START_TIMEOUT_MS },
  );
  return app;
}

/**
 * interop/spring-boot (spring-cloud-starter-netflix-eureka-client) registered with the Eureka server only. Its
 * application.yml also wants our config and auth servers, which this test is not about: --spring.config.name points
 * Spring at a file that does not exist, so the app runs on the properties given here (config client off, a JWKS URI
 * that is fetched only when a token arrives, and the Eureka client settings the other interop test uses).
 */
function startSpring(port: number): JavaApp {
  return startJava({
    args: [
      '-jar',
      SPRING_JAR,
      '--spring.config.name=eureka-peering',
      '--spring.cloud.config.enabled=false',
      '--spring.application.name=spring-interop',
      `--server.port=${port}`,
      '--server.address=127.0.0.1',
      '--spring.security.oauth2.resourceserver.jwt.jwk-set-uri=http://127.0.0.1:9/unused-jwks',
      `--eureka.client.service-url.defaultZone=${eurekaUrl}/eureka/`,
      '--eureka.client.registry-fetch-interval-seconds=2',
      '--eureka.client.instance-info-replication-interval-seconds=5',
      '--eureka.instance.hostname=localhost',
      '--eureka.instance.ip-address=127.0.0.1',
      '--eureka.instance.prefer-ip-address=true',
      '--eureka.instance.lease-renewal-interval-in-seconds=2',
      '--management.endpoints.web.exposure.include=health',
    ],
    cwd: work,
    log: join(work, 'spring.log'),
    env: {},
  });
}

interface WireInstance {
  instanceId: string;
  app: string;
  hostName: string;
  status: string;
  overriddenStatus?: string;
  port: { $: number | string };
  leaseInfo: { registrationTimestamp: number; lastRenewalTimestamp: number };
  metadata?: Record<string, string>;
}

/** GET {base}/eureka/apps/{app} as JSON: the instances, or undefined on 404. */
async function instancesOf(base: string, app: string): Promise<WireInstance[] | undefined> {
  const res = await fetch(`${base}/eureka/apps/${app}`, { headers: { accept: 'application/json' } });
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (res.status !== 200) throw new Error(`GET ${base}/eureka/apps/${app} answered ${res.status}`);
  const doc = (await res.json()) as { application: { instance: WireInstance[] | WireInstance } };
  const list = doc.application.instance;
  return Array.isArray(list) ? list : [list];
}

async function instanceOn(base: string, app: string, id: string): Promise<WireInstance | undefined> {
  return (await instancesOf(base, app))?.find((i) => i.instanceId === id);
}

/** Polls a side until `check` holds for the instance (or its absence); fails with both nodes' logs. */
async function until(
  what: string,
  base: string,
  app: string,
  id: string,
  check: (instance: WireInstance | undefined) => boolean,
  timeoutMs = REPLICATED_WITHIN_MS,
): Promise<WireInstance | undefined> {
  let last: WireInstance | undefined;
  try {
    await eventually(
      what,
      async () => {
        last = await instanceOn(base, app, id);
        return check(last) ? true : undefined;
      },
      { app: eureka, timeoutMs },
    );
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\nlast seen: ${JSON.stringify(last)}\nTrellis log:\n${tail(trellisLog, 30)}`, {
      cause: err,
    });
  }
  return last;
}

function registration(app: string, id: string, port: number, leaseSecs: number): string {
  return JSON.stringify({
    instance: {
      instanceId: id,
      app,
      hostName: `${id}.peering.test`,
      ipAddr: '127.0.0.1',
      port: { $: port, '@enabled': 'true' },
      securePort: { $: 443, '@enabled': 'false' },
      vipAddress: app.toLowerCase(),
      status: 'UP',
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      leaseInfo: { renewalIntervalInSecs: 1, durationInSecs: leaseSecs },
      metadata: { registeredOn: app },
    },
  });
}

/** One Eureka REST call; `auth` only for the Trellis side (the Eureka server has no write protection). */
async function call(method: string, url: string, auth: Record<string, string>, body?: string): Promise<number> {
  const res = await fetch(url, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body }),
  });
  await res.body?.cancel();
  return res.status;
}

/** Renews on one side every 700 ms for `ms`, each renewal answered 200. */
async function keepRenewing(url: string, auth: Record<string, string>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    expect(await call('PUT', url, auth)).toBe(200);
    await sleep(700);
  }
}

async function setUp(): Promise<void> {
  requireJdkAndMaven();
  // mavenPackage takes a lock per project, so another test file building the Spring app at the same time waits.
  await Promise.all([
    mavenPackage(EUREKA_PROJECT, join(work, 'mvn-eureka.log')),
    mavenPackage(SPRING_PROJECT, join(work, 'mvn-spring.log')),
  ]);
  trellisPort = await freePort();
  eurekaPort = await freePort();
  trellisUrl = `http://127.0.0.1:${trellisPort}`;
  eurekaUrl = `http://127.0.0.1:${eurekaPort}`;

  // Trellis first: its start-up copy from the Eureka node fails (not up yet) and it starts empty, as a new node
  // added to a running Eureka cluster whose peer is briefly away would.
  trellis = await startTrellis(join(work, 'trellis-data'));
  eureka = await startEureka();

  // The Spring app starts now and comes up while the replication tests run.
  const springPort = await freePort();
  springUrl = `http://127.0.0.1:${springPort}`;
  spring = startSpring(springPort);
  const app = spring;
  springUp = waitUntilUp(app, springUrl);
  springUp.catch(() => undefined); // awaited by the Spring tests; this only keeps a failure from being unhandled
}

const { failure: setupError, started } = setUpReported(setUp);

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await stopJava(spring, 5000);
  await stopJava(eureka, 5000);
  killAll();
  await trellis?.stop();
  await new Promise<void>((resolve) => trellisLogStream.end(resolve));
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('set-up', { timeout: TEST_TIMEOUT_MS }, () => {
  it('builds the Eureka server and the Spring app, starts Trellis and Eureka as each other’s peers', () => {
    const failure = setupError();
    if (failure !== undefined) throw failure;
    expect(eureka?.child.exitCode).toBeNull();
  });
});

describe('what Trellis is told reaches the Eureka server', { timeout: TEST_TIMEOUT_MS }, () => {
  const app = 'FROM-TRELLIS';
  const id = 'from-trellis-1';
  const onTrellis = (path = ''): string => `${trellisUrl}/eureka/apps/${app}/${id}${path}`;

  it('a registration', async () => {
    started();
    expect(await call('POST', `${trellisUrl}/eureka/apps/${app}`, trellisWrite, registration(app, id, 7001, 3))).toBe(
      204,
    );
    const seen = await until('the registration on Eureka', eurekaUrl, app, id, (i) => i?.status === 'UP');
    expect(seen).toMatchObject({ app, hostName: `${id}.peering.test`, metadata: { registeredOn: app } });
    expect(Number(seen?.port.$)).toBe(7001);
  });

  it('renewals: Eureka keeps the 3 s lease alive on them alone, well past its end', async () => {
    started();
    const first = await instanceOn(eurekaUrl, app, id);
    expect(first).toBeDefined();
    // Eureka evicts every second; without the replicated heartbeats the instance would be gone 3 s after it registered.
    await keepRenewing(onTrellis(), trellisWrite, 7000);
    const after = await instanceOn(eurekaUrl, app, id);
    expect(after?.status).toBe('UP');
    expect(after?.leaseInfo.lastRenewalTimestamp).toBeGreaterThan(first?.leaseInfo.lastRenewalTimestamp ?? 0);
    expect(after?.leaseInfo.registrationTimestamp).toBe(first?.leaseInfo.registrationTimestamp);
  });

  it('a status change (OUT_OF_SERVICE) and its removal', async () => {
    started();
    expect(await call('PUT', onTrellis('/status?value=OUT_OF_SERVICE'), trellisWrite)).toBe(200);
    const out = await until('OUT_OF_SERVICE on Eureka', eurekaUrl, app, id, (i) => i?.status === 'OUT_OF_SERVICE');
    expect(out?.overriddenStatus).toBe('OUT_OF_SERVICE');
    // Renewals carry the override too, and Eureka keeps it.
    await keepRenewing(onTrellis(), trellisWrite, 1500);
    expect((await instanceOn(eurekaUrl, app, id))?.status).toBe('OUT_OF_SERVICE');

    expect(await call('DELETE', onTrellis('/status?value=UP'), trellisWrite)).toBe(200);
    const back = await until('UP again on Eureka', eurekaUrl, app, id, (i) => i?.status === 'UP');
    expect(back?.overriddenStatus).toBe('UNKNOWN');
  });

  it('a cancel', async () => {
    started();
    expect(await call('DELETE', onTrellis(), trellisWrite)).toBe(200);
    await until('the cancel on Eureka', eurekaUrl, app, id, (i) => i === undefined);
  });
});

describe('what the Eureka server is told reaches Trellis', { timeout: TEST_TIMEOUT_MS }, () => {
  const app = 'FROM-EUREKA';
  const id = 'from-eureka-1';
  const onEureka = (path = ''): string => `${eurekaUrl}/eureka/apps/${app}/${id}${path}`;

  it('a registration', async () => {
    started();
    expect(await call('POST', `${eurekaUrl}/eureka/apps/${app}`, {}, registration(app, id, 7002, 3))).toBe(204);
    const seen = await until('the registration on Trellis', trellisUrl, app, id, (i) => i?.status === 'UP');
    expect(seen).toMatchObject({ app, hostName: `${id}.peering.test`, metadata: { registeredOn: app } });
    expect(Number(seen?.port.$)).toBe(7002);
  });

  it('renewals: Trellis keeps the 3 s lease alive on them alone, well past its end', async () => {
    started();
    const first = await instanceOn(trellisUrl, app, id);
    expect(first).toBeDefined();
    // Trellis sweeps every second (--eviction-interval-ms 1000) and would drop the instance 3 s after its last renewal.
    await keepRenewing(onEureka(), {}, 7000);
    const after = await instanceOn(trellisUrl, app, id);
    expect(after?.status).toBe('UP');
    expect(after?.leaseInfo.lastRenewalTimestamp).toBeGreaterThan(first?.leaseInfo.lastRenewalTimestamp ?? 0);
    expect(after?.leaseInfo.registrationTimestamp).toBe(first?.leaseInfo.registrationTimestamp);
  });

  it('a status change (OUT_OF_SERVICE) and its removal', async () => {
    started();
    expect(await call('PUT', onEureka('/status?value=OUT_OF_SERVICE'), {})).toBe(200);
    const out = await until('OUT_OF_SERVICE on Trellis', trellisUrl, app, id, (i) => i?.status === 'OUT_OF_SERVICE');
    expect(out?.overriddenStatus).toBe('OUT_OF_SERVICE');
    await keepRenewing(onEureka(), {}, 1500);
    expect((await instanceOn(trellisUrl, app, id))?.status).toBe('OUT_OF_SERVICE');

    expect(await call('DELETE', onEureka('/status?value=UP'), {})).toBe(200);
    const back = await until('UP again on Trellis', trellisUrl, app, id, (i) => i?.status === 'UP');
    expect(back?.overriddenStatus).toBe('UNKNOWN');
  });

  it('a cancel', async () => {
    started();
    expect(await call('DELETE', onEureka(), {})).toBe(200);
    await until('the cancel on Trellis', trellisUrl, app, id, (i) => i === undefined);
  });
});

describe(
  'a node that lost an instance gets it back with the next heartbeat from the other',
  { timeout: TEST_TIMEOUT_MS },
  () => {
    // A cancel marked as a peer's (Eureka's replication header) is applied on that node alone: the other still holds
    // the instance and renews it, and its replicated heartbeat is answered 404, which makes it send the registration.
    const replicaOnly = { 'x-netflix-discovery-replication': 'true' };

    it('Eureka, from a Trellis heartbeat', async () => {
      started();
      const register = registration('LOST-ON-EUREKA', 'l1', 7008, 90);
      expect(await call('POST', `${trellisUrl}/eureka/apps/LOST-ON-EUREKA`, trellisWrite, register)).toBe(204);
      await until('the registration on Eureka', eurekaUrl, 'LOST-ON-EUREKA', 'l1', (i) => i !== undefined);
      expect(await call('DELETE', `${eurekaUrl}/eureka/apps/LOST-ON-EUREKA/l1`, replicaOnly)).toBe(200);
      expect(await instanceOn(eurekaUrl, 'LOST-ON-EUREKA', 'l1')).toBeUndefined();
      expect(await call('PUT', `${trellisUrl}/eureka/apps/LOST-ON-EUREKA/l1`, trellisWrite)).toBe(200);
      await until('the registration back on Eureka', eurekaUrl, 'LOST-ON-EUREKA', 'l1', (i) => i?.status === 'UP');
      expect(await call('DELETE', `${trellisUrl}/eureka/apps/LOST-ON-EUREKA/l1`, trellisWrite)).toBe(200);
    });

    it('Trellis, from a Eureka heartbeat', async () => {
      started();
      const register = registration('LOST-ON-TRELLIS', 'l2', 7009, 90);
      expect(await call('POST', `${eurekaUrl}/eureka/apps/LOST-ON-TRELLIS`, {}, register)).toBe(204);
      await until('the registration on Trellis', trellisUrl, 'LOST-ON-TRELLIS', 'l2', (i) => i !== undefined);
      expect(
        await call('DELETE', `${trellisUrl}/eureka/apps/LOST-ON-TRELLIS/l2`, { ...trellisWrite, ...replicaOnly }),
      ).toBe(200);
      expect(await instanceOn(trellisUrl, 'LOST-ON-TRELLIS', 'l2')).toBeUndefined();
      expect(await call('PUT', `${eurekaUrl}/eureka/apps/LOST-ON-TRELLIS/l2`, {})).toBe(200);
      await until('the registration back on Trellis', trellisUrl, 'LOST-ON-TRELLIS', 'l2', (i) => i?.status === 'UP');
      expect(await call('DELETE', `${eurekaUrl}/eureka/apps/LOST-ON-TRELLIS/l2`, {})).toBe(200);
    });
  },
);

describe('a Spring Boot client of the Eureka server and Node clients of Trellis', { timeout: TEST_TIMEOUT_MS }, () => {
  let discovery: DiscoveryClient | undefined;
  let http: LoadBalancedHttp | undefined;
  let nodeSide: EurekaRegistration | undefined;

  it('@trellis/clients discovery on Trellis finds the Spring app and calls it by name', async () => {
    started();
    await springUp;
    const client = createDiscoveryClient({ registryUrl: `${trellisUrl}/eureka/`, logger });
    discovery = client;
    closers.push(() => client.stop());
    await client.start();
    await client.whenReady();
    const [instance] = await eventually(
      'the Spring app in the Node discovery client',
      () => {
        const list = client.getInstances(SPRING_APP);
        return list.length > 0 ? list : undefined;
      },
      { app: spring, timeoutMs: 20_000 },
    );
    expect(instance?.port).toEqual({ port: Number(new URL(springUrl).port), enabled: true });

    const lb = createLoadBalancedHttp({ discovery: client, logger });
    http = lb;
    closers.push(() => lb.close());
    const res = await lb.request('http://spring-interop/config/spring.application.name');
    expect(res.status).toBe(200);
    // The answer is the Spring app's own Environment: the call reached it, not some other instance.
    expect(await res.body.text()).toBe('spring-interop');
  });

  it('and the Spring app, through Eureka, finds a Node service registered only on Trellis', async () => {
    started();
    if (http === undefined || discovery === undefined) throw new Error('the previous test did not get that far');
    const registration = createEurekaRegistration({
      registryUrl: `${trellisUrl}/eureka/`,
      app: 'node-side',
      port: 7003,
      hostName: 'node-side.peering.test',
      ipAddr: '127.0.0.1',
      leaseRenewalIntervalSecs: 1,
      credentials: { username: peerUser, password: peerPassword },
      logger,
    });
    nodeSide = registration;
    closers.push(() => registration.stop());
    registration.start();
    registration.markUp();
    const seen = await eventually(
      'node-side in the Spring DiscoveryClient',
      async () => {
        const res = await http?.request('http://spring-interop/discovered/node-side');
        const list = (await res?.body.json()) as { instanceId: string; port: number }[] | undefined;
        return list !== undefined && list.length > 0 ? list : undefined;
      },
      { app: spring, timeoutMs: 30_000 },
    );
    expect(seen[0]).toMatchObject({ instanceId: registration.instanceId, port: 7003 });
  });

  it('taken out of service on Trellis, the Spring app is left alone by Node callers while it renews on Eureka', async () => {
    started();
    const client = discovery;
    if (client === undefined) throw new Error('the first test did not get that far');
    const [instance] = client.getInstances(SPRING_APP);
    if (instance === undefined) throw new Error('the Spring app is not in the Node discovery client');
    const status = `${trellisUrl}/eureka/apps/${SPRING_APP}/${encodeURIComponent(instance.instanceId)}/status`;
    expect(await call('PUT', `${status}?value=OUT_OF_SERVICE`, trellisWrite)).toBe(200);
    await until(
      'OUT_OF_SERVICE on Eureka',
      eurekaUrl,
      SPRING_APP,
      instance.instanceId,
      (i) => i?.status === 'OUT_OF_SERVICE',
    );
    await eventually(
      'the Node client to drop the Spring app',
      () => client.getInstances(SPRING_APP).length === 0 || undefined,
      {
        app: spring,
      },
    );
    // The app's own heartbeats (every 2 s, to Eureka) do not bring it back: Eureka holds the override, and its
    // replicated heartbeats tell Trellis the same.
    await sleep(5000);
    expect((await instanceOn(eurekaUrl, SPRING_APP, instance.instanceId))?.status).toBe('OUT_OF_SERVICE');
    const onTrellis = await instanceOn(trellisUrl, SPRING_APP, instance.instanceId);
    expect(onTrellis?.status).toBe('OUT_OF_SERVICE');
    expect(onTrellis?.leaseInfo.lastRenewalTimestamp).toBeGreaterThan(Date.now() - 4000);

    expect(await call('DELETE', `${status}?value=UP`, trellisWrite)).toBe(200);
    await until('UP again on Eureka', eurekaUrl, SPRING_APP, instance.instanceId, (i) => i?.status === 'UP');
    await eventually(
      'the Node client to choose it again',
      () => client.getInstances(SPRING_APP).length === 1 || undefined,
      {
        app: spring,
      },
    );
  });

  it('eureka-js-client on Trellis finds the Spring app too', async () => {
    started();
    await springUp;
    const client = new Eureka({
      eureka: {
        host: '127.0.0.1',
        port: trellisPort,
        servicePath: '/eureka/apps/',
        registerWithEureka: false,
        fetchRegistry: true,
        registryFetchInterval: 500,
        maxRetries: 0,
      },
      // Describes no one: this client only reads (registerWithEureka false), but its type wants an instance.
      instance: {
        app: 'js-reader',
        hostName: 'js-reader.peering.test',
        ipAddr: '127.0.0.1',
        port: { $: 7006, '@enabled': true },
        vipAddress: 'js-reader',
        dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      },
      cwd: work,
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    closers.push(() => new Promise<void>((done) => client.stop(() => done())));
    await new Promise<void>((resolve, reject) => client.start((err) => (err ? reject(err) : resolve())));
    const [instance] = await eventually(
      'the Spring app in eureka-js-client',
      () => {
        const list = client.getInstancesByAppId(SPRING_APP);
        return list.length > 0 ? list : undefined;
      },
      { app: spring, timeoutMs: 20_000 },
    );
    expect(instance?.status).toBe('UP');
    expect(Number((instance?.port as { $: number | string } | undefined)?.$)).toBe(Number(new URL(springUrl).port));
  });

  it('the Node service leaves Eureka when it stops', async () => {
    started();
    if (nodeSide === undefined) throw new Error('the Node service was not registered');
    const id = nodeSide.instanceId;
    await until('node-side on Eureka', eurekaUrl, 'NODE-SIDE', id, (i) => i?.status === 'UP');
    await nodeSide.stop();
    await until('node-side to leave Eureka', eurekaUrl, 'NODE-SIDE', id, (i) => i === undefined);
  });
});

describe('a Trellis node stopped and restarted catches up with the Eureka server', { timeout: TEST_TIMEOUT_MS }, () => {
  /** Stops Trellis, registers `id` on Eureka while it is down, restarts it on `dataDir`; answers the new node. */
  async function missWhileDown(id: string, dataDir: string): Promise<void> {
    await trellis?.stop();
    trellis = undefined;
    expect(
      await call('POST', `${eurekaUrl}/eureka/apps/WHILE-DOWN`, {}, registration('WHILE-DOWN', id, 7004, 90)),
    ).toBe(204);
    trellis = await startTrellis(dataDir);
  }

  it('on its own data dir: what Eureka registered meanwhile is there as soon as it listens', async () => {
    started();
    await missWhileDown('while-down-1', join(work, 'trellis-data'));
    // The start-up copy runs before the node listens: the first read already has it, and the Spring app.
    expect((await instanceOn(trellisUrl, 'WHILE-DOWN', 'while-down-1'))?.status).toBe('UP');
    expect((await instancesOf(trellisUrl, SPRING_APP))?.[0]?.status).toBe('UP');
    // Replication runs both ways again.
    expect(await call('DELETE', `${eurekaUrl}/eureka/apps/WHILE-DOWN/while-down-1`, {})).toBe(200);
    await until('the cancel on Trellis', trellisUrl, 'WHILE-DOWN', 'while-down-1', (i) => i === undefined);
    expect(
      await call(
        'POST',
        `${trellisUrl}/eureka/apps/AFTER-RESTART`,
        trellisWrite,
        registration('AFTER-RESTART', 'a1', 7005, 90),
      ),
    ).toBe(204);
    await until('a registration after the restart on Eureka', eurekaUrl, 'AFTER-RESTART', 'a1', (i) => i !== undefined);
  });

  it('fresh, with an empty data dir: the same', async () => {
    started();
    await missWhileDown('while-down-2', join(work, 'trellis-data-fresh'));
    expect((await instanceOn(trellisUrl, 'WHILE-DOWN', 'while-down-2'))?.status).toBe('UP');
    expect((await instancesOf(trellisUrl, SPRING_APP))?.[0]?.status).toBe('UP');
    expect((await instanceOn(trellisUrl, 'AFTER-RESTART', 'a1'))?.status).toBe('UP');
    // Heartbeats from the Spring app keep arriving through Eureka.
    const before = (await instancesOf(trellisUrl, SPRING_APP))?.[0]?.leaseInfo.lastRenewalTimestamp ?? 0;
    await eventually(
      'a replicated Spring heartbeat on the restarted node',
      async () =>
        ((await instancesOf(trellisUrl, SPRING_APP))?.[0]?.leaseInfo.lastRenewalTimestamp ?? 0) > before || undefined,
      { app: spring, timeoutMs: 10_000 },
    );
  });
});

describe('a Eureka node stopped and restarted catches up with Trellis', { timeout: TEST_TIMEOUT_MS + 60_000 }, () => {
  it('what Trellis registered meanwhile is on Eureka once it serves again, and renewals reach it', async () => {
    started();
    // An instance out of service is copied too (the peer profile's filter-only-up-instances=false): nothing renews
    // a1, so the copy is the only way back for it.
    expect(
      await call('PUT', `${trellisUrl}/eureka/apps/AFTER-RESTART/a1/status?value=OUT_OF_SERVICE`, trellisWrite),
    ).toBe(200);
    await until('a1 out of service on Eureka', eurekaUrl, 'AFTER-RESTART', 'a1', (i) => i?.status === 'OUT_OF_SERVICE');
    await stopJava(eureka, 10_000);
    expect(
      await call(
        'POST',
        `${trellisUrl}/eureka/apps/BACK-LATER`,
        trellisWrite,
        registration('BACK-LATER', 'b1', 7007, 90),
      ),
    ).toBe(204);
    eureka = await startEureka();
    // Eureka's start-up copy (its embedded client's GET /eureka/apps on Trellis, before it serves); Trellis's retry of
    // the batch could only come later, after its backoff.
    await until(
      'the registration made while Eureka was down',
      eurekaUrl,
      'BACK-LATER',
      'b1',
      (i) => i?.status === 'UP',
    );
    expect(await instanceOn(eurekaUrl, 'AFTER-RESTART', 'a1')).toMatchObject({
      status: 'OUT_OF_SERVICE',
      overriddenStatus: 'OUT_OF_SERVICE',
    });
    const first = await instanceOn(eurekaUrl, 'BACK-LATER', 'b1');
    await keepRenewing(`${trellisUrl}/eureka/apps/BACK-LATER/b1`, trellisWrite, 1500);
    // Renewals go through Trellis's replicator, which backed off while Eureka was down (doubling up to 30 s): on a
    // busy machine the JVM's restart outlasts several doublings, so the next attempt may be that far away.
    await until(
      'a renewal from Trellis on the restarted Eureka',
      eurekaUrl,
      'BACK-LATER',
      'b1',
      (i) => (i?.leaseInfo.lastRenewalTimestamp ?? 0) > (first?.leaseInfo.lastRenewalTimestamp ?? 0),
      40_000,
    );
  });
});
