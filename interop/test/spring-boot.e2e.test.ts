// A real Spring Boot service (interop/spring-boot: spring-cloud-starter-netflix-eureka-client,
// spring-cloud-starter-config, spring-boot-starter-oauth2-resource-server), built with Maven and run on the JVM against
// our registry, config server and auth server. It proves DESIGN.md's promise: Spring services use Trellis unmodified.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { authServerComponent } from '@trellis/auth-server';
import { createLogger, loadSettings, type Component, type Logger, type Running, type SettingSpecs } from '@trellis/kit';
import { configServerComponent } from '@trellis/config-server';
import { registryComponent } from '@trellis/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientCredentialsToken, revokeAccessToken } from '../../kit/test/support/oauth.ts';
import {
  exited,
  freePort,
  killAll,
  mavenPackage,
  requireJdkAndMaven,
  run,
  START_TIMEOUT_MS,
  setUpReported,
  startJava,
  stopJava,
  tail,
  eventually as eventuallyFor,
  waitUntilUp,
  type JavaApp,
} from './support/jvm.ts';

const PROJECT = fileURLToPath(new URL('../spring-boot/', import.meta.url));
const JAR = join(PROJECT, 'target', 'spring-interop.jar');
const APP = 'spring-interop';
// Above the 30 s that `eventually` waits by default, so a slow client fails with its own message, not vitest's.
const TEST_TIMEOUT_MS = 60_000;

interface SpringVectors {
  asymmetric: { privateKeyPem: string; vectors: { plaintext: string; cipherProperty: string }[] };
}
// Ciphertext made by Spring's own RsaSecretEncryptor (see shared/interop), so the value the JVM sees went
// Spring-encrypt → Trellis-decrypt → Spring config client.
const springVectors = JSON.parse(
  readFileSync(new URL('../../../shared/interop/spring-cipher-vectors.json', import.meta.url), 'utf8'),
) as SpringVectors;
const rsa = ((): { plaintext: string; cipherProperty: string } => {
  const first = springVectors.asymmetric.vectors[0];
  if (first === undefined) throw new Error('spring-cipher-vectors.json has no asymmetric vector');
  return first;
})();

const silent = (): Logger => createLogger({ name: 'spring-interop-test', level: 'silent' });

/** Starts a Trellis component in this process as its `trellis` command would, on a free loopback port. */
function startComponent<S extends SettingSpecs>(
  component: Component<S>,
  argv: readonly string[],
  env: Record<string, string> = {},
): Promise<Running> {
  const settings = loadSettings(component.settings, { argv: ['--port', '0', '--host', '127.0.0.1', ...argv], env });
  return component.start(settings, { logger: silent(), env });
}

interface EurekaInstance {
  instanceId: string;
  app: string;
  hostName: string;
  ipAddr: string;
  status: string;
  port: { $: number | string; '@enabled': string | boolean };
  leaseInfo: { registrationTimestamp: number; lastRenewalTimestamp: number; renewalIntervalInSecs: number };
  metadata?: Record<string, string>;
}

interface Discovered {
  instanceId: string;
  serviceId: string;
  host: string;
  port: number;
  uri: string;
}

const work = mkdtempSync(join(tmpdir(), 'spring-interop-'));
const jvmLog = join(work, 'jvm.log');
const servers: Running[] = [];
let jvm: JavaApp | undefined;
let registryUrl = '';
let configUrl = '';
let issuer = '';
let appUrl = '';
let appPort = 0;
let readerSecret = '';
let writerSecret = '';
/** The designated resource-server client the auth server seeds and hands on (Running.exports), as `trellis up` does. */
let introspector = { id: '', secret: '' };
const configUser = 'spring-interop';
const configPassword = randomBytes(18).toString('base64url');
// The registry is write-protected, as `trellis up` runs it: Spring's client sends the defaultZone's user info as Basic,
// a credential limited to its own application (REGISTRY_CLIENTS); the test registers NODE-PEER with the
// all-applications one (REGISTRY_WRITE_AUTH).
const registryUser = 'spring-interop';
const registryPassword = randomBytes(18).toString('base64url');
const registryOwn = {
  authorization: `Basic ${Buffer.from(`${registryUser}:${registryPassword}`).toString('base64')}`,
};
const opsPassword = randomBytes(18).toString('base64url');
const registryWrite = { authorization: `Basic ${Buffer.from(`ops:${opsPassword}`).toString('base64')}` };

/** The registry URL a Spring app registers through: its own credential as user info, which Spring's client sends. */
function eurekaUriWithCredential(): string {
  return `${registryUrl.replace('://', `://${registryUser}:${registryPassword}@`)}/eureka/`;
}

/** Polls until `probe` returns a value, or fails with what the last attempt saw and the JVM's log. */
function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  return eventuallyFor(what, probe, { app: jvm, timeoutMs });
}

async function eurekaApp(name: string): Promise<{ status: number; instances: EurekaInstance[] }> {
  const res = await fetch(`${registryUrl}/eureka/apps/${name.toUpperCase()}`, {
    headers: { accept: 'application/json' },
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    return { status: res.status, instances: [] };
  }
  const doc = (await res.json()) as { application: { instance: EurekaInstance[] | EurekaInstance } };
  const list = doc.application.instance;
  return { status: 200, instances: Array.isArray(list) ? list : [list] };
}

const token = (clientId: string, secret: string, scope: string): Promise<string> =>
  clientCredentialsToken({ issuer, clientId, secret }, scope);

/**
 * A PKCS12 truststore, under a fresh password, holding exactly our local CA (the config server's HTTPS); answers the
 * JVM flags that make an app trust it.
 */
async function trustLocalCa(name: string): Promise<string[]> {
  const truststore = join(work, `truststore-${name}.p12`);
  const storePassword = randomBytes(12).toString('hex');
  await run(
    'keytool',
    [
      '-importcert',
      '-noprompt',
      '-alias',
      'trellis-local-ca',
      '-file',
      join(work, 'config-data', 'tls', 'ca.pem'),
      '-keystore',
      truststore,
      '-storetype',
      'PKCS12',
      '-storepass',
      storePassword,
    ],
    { cwd: work, log: join(work, `keytool-${name}.log`), timeoutMs: 60_000 },
  );
  return [
    `-Djavax.net.ssl.trustStore=${truststore}`,
    '-Djavax.net.ssl.trustStoreType=PKCS12',
    `-Djavax.net.ssl.trustStorePassword=${storePassword}`,
  ];
}

/**
 * Starts the app's jar on a small JVM with the `trust` flags, on `port`, against our config server (with its
 * credential) and issuer, `env` on top; its output goes into `log`.
 */
function startJar(options: {
  trust: readonly string[];
  port: number;
  env: Record<string, string>;
  log: string;
}): JavaApp {
  return startJava({
    args: [...options.trust, '-jar', JAR],
    cwd: work,
    log: options.log,
    env: {
      TRELLIS_APP_PORT: String(options.port),
      TRELLIS_CONFIG_URI: configUrl,
      TRELLIS_CONFIG_USERNAME: configUser,
      TRELLIS_CONFIG_PASSWORD: configPassword,
      TRELLIS_ISSUER_URI: issuer,
      ...options.env,
    },
  });
}

/** Everything before the first request: tools, servers, truststore, Maven build, JVM start until healthy. */
async function setUp(): Promise<void> {
  requireJdkAndMaven();
  // The build (Maven Central on the first run, ~/.m2 after) overlaps the servers' start.
  const build = mavenPackage(PROJECT, join(work, 'mvn.log'));
  build.catch(() => undefined); // awaited below; this only keeps an early failure from being unhandled meanwhile

  const registry = await startComponent(registryComponent, ['--data-dir', join(work, 'registry')], {
    REGISTRY_WRITE_AUTH: `basic:ops:${opsPassword}`,
    REGISTRY_CLIENTS: `${registryUser}:${registryPassword}:spring-interop`,
  });
  servers.push(registry);
  registryUrl = `http://127.0.0.1:${registry.endpoints[0]?.port ?? 0}`;

  const repo = join(work, 'config-repo');
  const configData = join(work, 'config-data');
  mkdirSync(repo);
  for (const [file, text] of Object.entries({
    'application.yml': 'interop:\n  origin: application.yml\n  greeting: overridden by spring-interop.yml\n',
    [`${APP}.yml`]: `interop:\n  greeting: hello from trellis\n  secret: '${rsa.cipherProperty}'\n`,
    'other-app.yml': 'interop:\n  greeting: not for this app\n',
  })) {
    writeFileSync(join(repo, file), text);
  }
  const configEnv = {
    ENCRYPT_KEY: springVectors.asymmetric.privateKeyPem,
    CONFIG_CLIENTS: `${configUser}:${configPassword}:${APP},application`,
  };
  const config = await startComponent(configServerComponent, ['--repo', repo, '--data-dir', configData], configEnv);
  servers.push(config);
  configUrl = config.endpoints[0]?.url ?? '';
  expect(configUrl).toMatch(/^https:\/\/localhost:\d+$/);

  const auth = await startComponent(authServerComponent, ['--data-dir', join(work, 'auth')]);
  servers.push(auth);
  const notes = (auth.notes ?? []).join('\n');
  issuer = /issuer (\S+),/.exec(notes)?.[1] ?? '';
  readerSecret = /development client reader \/ (\S+)/.exec(notes)?.[1] ?? '';
  writerSecret = /development client writer \/ (\S+)/.exec(notes)?.[1] ?? '';
  if (issuer === '' || readerSecret === '' || writerSecret === '') throw new Error('auth-server notes changed shape');
  introspector = {
    id: auth.exports?.GATEWAY_INTROSPECTION_CLIENT_ID ?? '',
    secret: auth.exports?.GATEWAY_INTROSPECTION_CLIENT_SECRET ?? '',
  };
  if (introspector.id === '' || introspector.secret === '') throw new Error('auth-server exports changed shape');

  // The JVM trusts exactly our local CA for the config server's HTTPS.
  const trust = await trustLocalCa('main');

  await build;
  appPort = await freePort();
  appUrl = `http://127.0.0.1:${appPort}`;
  jvm = startJar({ trust, port: appPort, log: jvmLog, env: { TRELLIS_EUREKA_URI: eurekaUriWithCredential() } });
  await waitUntilUp(jvm, appUrl);
}

const { failure: setupError, started } = setUpReported(setUp);

afterAll(async () => {
  await stopJava(jvm);
  killAll();
  for (const server of servers.splice(0).reverse()) await server.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('set-up', { timeout: TEST_TIMEOUT_MS }, () => {
  it('builds the Spring Boot app with Maven and starts it on the JVM against our three servers', () => {
    const failure = setupError();
    if (failure !== undefined) throw failure;
    expect(jvm?.child.exitCode).toBeNull();
  });
});

describe(
  'Spring Cloud Config client against our config server (HTTPS, basic auth)',
  { timeout: TEST_TIMEOUT_MS },
  () => {
    it('binds a plain value from {application}.yml over application.yml', async () => {
      started();
      const res = await fetch(`${appUrl}/config/interop.greeting`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('hello from trellis');
      const shared = await fetch(`${appUrl}/config/interop.origin`);
      expect(await shared.text()).toBe('application.yml');
    });

    it('receives the {cipher} value decrypted by our server', async () => {
      started();
      const res = await fetch(`${appUrl}/config/interop.secret`);
      expect(res.status).toBe(200);
      const value = await res.text();
      expect(value.startsWith('{cipher}')).toBe(false);
      // Compared without echoing the value into a failure message.
      expect(value === rsa.plaintext).toBe(true);
    });

    it('needed its credential: our server refuses the same request without one', async () => {
      started();
      // fetch cannot be given a CA per request; node:https can.
      const ca = readFileSync(join(work, 'config-data', 'tls', 'ca.pem'));
      const status = await new Promise<number>((resolve, reject) => {
        httpsRequest(`${configUrl}/${APP}/default`, { ca }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      expect(status).toBe(401);
    });
  },
);

describe('Eureka client against our registry', { timeout: TEST_TIMEOUT_MS }, () => {
  it('registers the app, and our registry lists it UP on its port', async () => {
    started();
    const { instances } = await eventually('SPRING-INTEROP in the registry', async () => {
      const found = await eurekaApp(APP);
      return found.instances.some((i) => i.status === 'UP') ? found : undefined;
    });
    expect(instances).toHaveLength(1);
    const [instance] = instances;
    expect(instance?.app).toBe('SPRING-INTEROP');
    expect(instance?.status).toBe('UP');
    expect(Number(instance?.port.$)).toBe(appPort);
    expect(instance?.ipAddr).toBe('127.0.0.1');
    expect(instance?.leaseInfo.renewalIntervalInSecs).toBe(5);
  });

  it('renews its lease with heartbeats our registry accepts', async () => {
    started();
    const first = (await eurekaApp(APP)).instances[0];
    expect(first).toBeDefined();
    const renewed = await eventually(
      'a heartbeat from the Spring app',
      async () => {
        const now = (await eurekaApp(APP)).instances[0];
        return now !== undefined && now.leaseInfo.lastRenewalTimestamp > (first?.leaseInfo.lastRenewalTimestamp ?? 0)
          ? now
          : undefined;
      },
      20_000,
    );
    // A heartbeat answered 404 would make the client register again: the registration must be the original one.
    expect(renewed.leaseInfo.registrationTimestamp).toBe(first?.leaseInfo.registrationTimestamp);
    expect(renewed.instanceId).toBe(first?.instanceId);
  });

  it("shows an instance registered through our REST API in Spring's DiscoveryClient, and drops it on cancel", async () => {
    started();
    const peerPort = 45_678;
    const register = (auth: Record<string, string>): Promise<Response> =>
      fetch(`${registryUrl}/eureka/apps/NODE-PEER`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({
          instance: {
            instanceId: 'node-peer-1',
            app: 'NODE-PEER',
            hostName: 'node-peer.local',
            ipAddr: '127.0.0.2',
            port: { $: peerPort, '@enabled': 'true' },
            vipAddress: 'node-peer',
            secureVipAddress: 'node-peer',
            status: 'UP',
            dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
            metadata: { zone: 'trellis' },
          },
        }),
      });
    // The Spring app's credential is limited to SPRING-INTEROP: it registers that (above), and nothing else.
    expect((await register(registryOwn)).status).toBe(403);
    const res = await register(registryWrite);
    expect(res.status).toBe(204);
    const seen = await eventually('node-peer in the Spring DiscoveryClient', async () => {
      const list = (await (await fetch(`${appUrl}/discovered/node-peer`)).json()) as Discovered[];
      return list.length > 0 ? list : undefined;
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ instanceId: 'node-peer-1', serviceId: 'NODE-PEER', port: peerPort });
    expect(['node-peer.local', '127.0.0.2']).toContain(seen[0]?.host);

    expect((await fetch(`${registryUrl}/eureka/apps/NODE-PEER/node-peer-1`, { method: 'DELETE' })).status).toBe(401);
    const cancel = await fetch(`${registryUrl}/eureka/apps/NODE-PEER/node-peer-1`, {
      method: 'DELETE',
      headers: registryWrite,
    });
    expect(cancel.status).toBe(200);
    await eventually('node-peer to leave the Spring DiscoveryClient', async () => {
      const list = (await (await fetch(`${appUrl}/discovered/node-peer`)).json()) as Discovered[];
      return list.length === 0 ? true : undefined;
    });
  });
});

describe('Spring OAuth2 resource server with issuer-uri on our auth server', { timeout: TEST_TIMEOUT_MS }, () => {
  it('accepts a client_credentials token with product:read (200)', async () => {
    started();
    const access = await token('reader', readerSecret, 'product:read');
    const res = await fetch(`${appUrl}/products/7`, { headers: { authorization: `Bearer ${access}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ productId: 7, clientId: 'reader', scope: 'product:read', issuer });
  });

  it('answers 401 with a Bearer challenge without a token, or with a forged one', async () => {
    started();
    const none = await fetch(`${appUrl}/products/7`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);

    const access = await token('reader', readerSecret, 'product:read');
    const [header, payload] = access.split('.');
    const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    const bad = await fetch(`${appUrl}/products/7`, { headers: { authorization: `Bearer ${forged}` } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  it('answers 403 insufficient_scope to a valid token without product:read', async () => {
    started();
    const access = await token('writer', writerSecret, 'product:write');
    const res = await fetch(`${appUrl}/products/7`, { headers: { authorization: `Bearer ${access}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
  });
});

describe('graceful shutdown', { timeout: TEST_TIMEOUT_MS }, () => {
  it('cancels the registration in our registry on SIGTERM', async () => {
    started();
    const running = jvm?.child;
    if (running === undefined) throw new Error('the Spring app never started');
    expect((await eurekaApp(APP)).instances).toHaveLength(1);
    running.kill('SIGTERM');
    const code = await Promise.race([exited(running), sleep(30_000).then(() => 'still running after 30 s')]);
    // The JVM answers SIGTERM by running its shutdown hooks (Spring's context close, Eureka's cancel), then exits
    // with 128 + 15.
    expect(code, tail(jvmLog)).toBe(143);
    const after = await eurekaApp(APP);
    expect(after.status).toBe(404);
  });
});

// A second run of the same jar with the `introspection` profile: Spring's resource server in opaque-token mode, asking
// our introspection endpoint (RFC 7662) about each token with a client credential of its own, so that a token revoked
// at our revocation endpoint (RFC 7009) is refused at once rather than when it expires.
describe('Spring OAuth2 resource server in opaque-token mode (introspection)', { timeout: TEST_TIMEOUT_MS }, () => {
  const introspectingLog = join(work, 'jvm-introspection.log');
  let introspecting: JavaApp | undefined;
  let introspectingUrl = '';

  beforeAll(async () => {
    if (setupError() !== undefined) return;
    const port = await freePort();
    introspectingUrl = `http://127.0.0.1:${port}`;
    // Its own truststore of the same local CA: the app still reads its configuration over HTTPS.
    const trust = await trustLocalCa('introspection');
    introspecting = startJar({
      trust,
      port,
      log: introspectingLog,
      env: {
        SPRING_PROFILES_ACTIVE: 'introspection',
        // Registering needs the registry's write credential, as for the first run.
        TRELLIS_EUREKA_URI: eurekaUriWithCredential(),
        TRELLIS_INTROSPECTION_URI: `${issuer}/oauth2/introspect`,
        // Only a designated resource server learns about other clients' tokens (RFC 7662 §4): the app uses the one
        // the auth server seeds for the gateway, not a credential of the clients whose tokens it checks.
        TRELLIS_INTROSPECTION_CLIENT_ID: introspector.id,
        TRELLIS_INTROSPECTION_CLIENT_SECRET: introspector.secret,
      },
    });
    await waitUntilUp(introspecting, introspectingUrl);
  }, START_TIMEOUT_MS + 10_000);

  afterAll(() => stopJava(introspecting), 30_000);

  const product = (access: string): Promise<Response> =>
    fetch(`${introspectingUrl}/products/7`, { headers: { authorization: `Bearer ${access}` } });

  it('accepts our JWT access token as the introspection answer describes it, then 401 once it is revoked', async () => {
    started();
    const access = await token('reader', readerSecret, 'product:read');
    const ok = await product(access);
    expect(ok.status, tail(introspectingLog)).toBe(200);
    expect(await ok.json()).toEqual({ productId: 7, clientId: 'reader', scope: 'product:read', issuer });

    await revokeAccessToken({ issuer, clientId: 'reader', secret: readerSecret }, access);
    const refused = await product(access);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    // The reader's other tokens still work.
    expect((await product(await token('reader', readerSecret, 'product:read'))).status).toBe(200);
  });

  it('answers 403 insufficient_scope to an active token without product:read', async () => {
    started();
    const res = await product(await token('writer', writerSecret, 'product:write'));
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
  });
});
