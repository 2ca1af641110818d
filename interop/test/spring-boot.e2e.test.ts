// A real Spring Boot service (interop/spring-boot: spring-cloud-starter-netflix-eureka-client,
// spring-cloud-starter-config, spring-boot-starter-oauth2-resource-server), built with Maven and run on the JVM against
// our registry, config server and auth server. It proves DESIGN.md's promise: Spring services use Trellis unmodified.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
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

const PROJECT = fileURLToPath(new URL('../spring-boot/', import.meta.url));
const JAR = join(PROJECT, 'target', 'spring-interop.jar');
const APP = 'spring-interop';
const BUILD_TIMEOUT_MS = 15 * 60_000;
const START_TIMEOUT_MS = 120_000;
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

/** Fails (never skips) with the Debian package to install when a tool is missing; returns what it printed. */
function requireTool(command: string, args: string[], debianPackage: string): string {
  const probe = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
  if (probe.error !== undefined || probe.status !== 0) {
    const why = probe.error !== undefined ? 'is not on PATH' : `\`${command} ${args.join(' ')}\` failed`;
    throw new Error(`${command} is required for the Spring Boot interop test but ${why}; install ${debianPackage}`);
  }
  return `${probe.stdout}${probe.stderr}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Child processes this file started; killed in afterAll, and on exit should the worker die first. */
const children = new Set<ChildProcess>();
const killAll = (): void => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};
process.once('exit', killAll);

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child.exitCode ?? child.signalCode ?? '');
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? '')));
}

/** Runs a command to completion, output into `log`; rejects with the log's tail on failure or timeout. */
async function run(command: string, args: string[], options: { cwd: string; log: string; timeoutMs: number }) {
  const out = createWriteStream(options.log);
  const child = track(spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const code = await exited(child);
  clearTimeout(timer);
  await new Promise<void>((resolve) => out.end(resolve));
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} ended with ${code}:\n${tail(options.log)}`);
}

function tail(file: string, lines = 80): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
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
let jvm: ChildProcess | undefined;
let jvmOut: WriteStream | undefined;
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
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'nothing yet';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (jvm !== undefined && (jvm.exitCode !== null || jvm.signalCode !== null)) {
      throw new Error(`the Spring app exited while waiting for ${what}:\n${tail(jvmLog)}`);
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last}); Spring app log:\n${tail(jvmLog)}`);
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
 * credential) and issuer, `env` on top; its output goes into `log`. Credentials go through the environment, not the
 * command line that `ps` shows.
 */
function startJar(options: { trust: readonly string[]; port: number; env: Record<string, string>; log: string }): {
  child: ChildProcess;
  out: WriteStream;
} {
  const out = createWriteStream(options.log);
  const child = track(
    spawn('java', ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', ...options.trust, '-jar', JAR], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        TRELLIS_APP_PORT: String(options.port),
        TRELLIS_CONFIG_URI: configUrl,
        TRELLIS_CONFIG_USERNAME: configUser,
        TRELLIS_CONFIG_PASSWORD: configPassword,
        TRELLIS_ISSUER_URI: issuer,
        ...options.env,
      },
    }),
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return { child, out };
}

/** Everything before the first request: tools, servers, truststore, Maven build, JVM start until healthy. */
async function setUp(): Promise<void> {
  const jdk = 'openjdk-17-jdk-headless (Spring Boot 3 needs a JDK >= 17)';
  const javaVersion = /version "(\d+)/.exec(requireTool('java', ['-version'], jdk))?.[1];
  if (javaVersion === undefined || Number(javaVersion) < 17)
    throw new Error(`java is ${javaVersion ?? 'unknown'}; install ${jdk}`);
  requireTool('keytool', ['-help'], jdk);
  requireTool('mvn', ['-v'], 'maven');
  // The build (Maven Central on the first run, ~/.m2 after) overlaps the servers' start.
  const build = run('mvn', ['-B', '-q', 'package', '-DskipTests'], {
    cwd: PROJECT,
    log: join(work, 'mvn.log'),
    timeoutMs: BUILD_TIMEOUT_MS,
  });
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
  ({ child: jvm, out: jvmOut } = startJar({
    trust,
    port: appPort,
    log: jvmLog,
    env: { TRELLIS_EUREKA_URI: eurekaUriWithCredential() },
  }));
  await eventually(
    'the Spring app to report UP on /actuator/health',
    async () => {
      const res = await fetch(`${appUrl}/actuator/health`);
      const body = (await res.json()) as { status?: string };
      if (res.status !== 200) throw new Error(`health ${res.status} ${JSON.stringify(body)}`);
      return body.status === 'UP' ? true : undefined;
    },
    START_TIMEOUT_MS,
  );
}

// A failed set-up must fail the run, not leave the tests skipped (vitest skips them when beforeAll throws): the first
// test reports it, the others fail pointing there.
let setupError: Error | undefined;
beforeAll(
  async () => {
    try {
      await setUp();
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(String(err));
    }
  },
  BUILD_TIMEOUT_MS + START_TIMEOUT_MS + 60_000,
);

function started(): void {
  if (setupError !== undefined) throw new Error("the Spring app did not start: see the set-up test's failure");
}

afterAll(async () => {
  if (jvm !== undefined && jvm.exitCode === null && jvm.signalCode === null) {
    jvm.kill('SIGTERM');
    await Promise.race([exited(jvm), sleep(15_000)]);
  }
  killAll();
  if (jvmOut !== undefined) await new Promise<void>((resolve) => jvmOut?.end(resolve));
  for (const server of servers.splice(0).reverse()) await server.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('set-up', { timeout: TEST_TIMEOUT_MS }, () => {
  it('builds the Spring Boot app with Maven and starts it on the JVM against our three servers', () => {
    if (setupError !== undefined) throw setupError;
    expect(jvm?.exitCode).toBeNull();
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
    const running = jvm;
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
  let introspecting: ChildProcess | undefined;
  let introspectingOut: WriteStream | undefined;
  let introspectingUrl = '';

  beforeAll(async () => {
    if (setupError !== undefined) return;
    const port = await freePort();
    introspectingUrl = `http://127.0.0.1:${port}`;
    // Its own truststore of the same local CA: the app still reads its configuration over HTTPS.
    const trust = await trustLocalCa('introspection');
    ({ child: introspecting, out: introspectingOut } = startJar({
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
    }));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (introspecting.exitCode !== null) {
        throw new Error(`the introspecting Spring app exited:\n${tail(introspectingLog)}`);
      }
      const up = await fetch(`${introspectingUrl}/actuator/health`)
        .then(async (res) => ((await res.json()) as { status?: string }).status === 'UP')
        .catch(() => false);
      if (up) return;
      await sleep(250);
    }
    throw new Error(`the introspecting Spring app did not start:\n${tail(introspectingLog)}`);
  }, START_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    if (introspecting !== undefined && introspecting.exitCode === null && introspecting.signalCode === null) {
      introspecting.kill('SIGTERM');
      await Promise.race([exited(introspecting), sleep(15_000)]);
    }
    if (introspectingOut !== undefined) await new Promise<void>((resolve) => introspectingOut?.end(resolve));
  }, 30_000);

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
