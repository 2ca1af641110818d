// Trellis from outside the repository: the packed tarballs installed in a scratch project, the installed CLI's servers
// and two plain-JavaScript services run on each supported Node.js build, and a TypeScript consumer checked by tsc.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
} from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptsConnections, freePort } from '../../kit/src/free-port.ts';
import { keepOutput, own, untilReady } from '../../kit/src/owned-process.ts';
import { nodeBuildBinary, SUPPORTED_NODE_MAJORS, type SupportedNodeMajor } from '../src/setup.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/consumer/', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const PUBLISHED = ['auth-server', 'cli', 'clients', 'config-server', 'examples', 'gateway', 'kit', 'registry'];
const PLAINTEXT = 'consumer-test plaintext';
const START_MS = 30_000;

/**
 * What a consumer's shell would hand a child: no NODE_OPTIONS (the workspace runner's --conditions=@trellis/source
 * would send imports to src/), and the chosen Node first on PATH.
 */
function consumerEnv(node: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _workspaceOnly, ...env } = process.env;
  return { ...env, PATH: `${dirname(node)}${delimiter}${env.PATH ?? ''}`, LOG_FORMAT: 'json', ...extra };
}

/** The root's pinned versions of the type packages a TypeScript consumer installs itself. */
function rootDevVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  const version = manifest.devDependencies[name];
  if (version === undefined) throw new Error(`the root package.json has no ${name}`);
  return `${name}@${version}`;
}

/** POSTs `body` as text over HTTPS trusting only the PEM CA in `caFile`; answers the response text. */
function httpsText(url: string, caFile: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: readFileSync(caFile), headers: { 'content-type': 'text/plain' } });
    req.once('error', reject);
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () =>
        res.statusCode === 200 ? resolve(text) : reject(new Error(`${url} answered ${res.statusCode}: ${text}`)),
      );
    });
    req.end(body);
  });
}

let scratch = '';

beforeAll(async () => {
  // os.tmpdir(), not under the repository: nothing above the scratch project holds a node_modules to fall back on.
  scratch = mkdtempSync(join(tmpdir(), 'trellis-consumer-'));
  const packs = join(scratch, 'packs');
  const project = join(scratch, 'project');
  mkdirSync(project);
  const env = consumerEnv(process.execPath);
  await run(process.execPath, [join(ROOT, 'tools', 'pack.mjs'), packs], { cwd: ROOT, env, maxBuffer: 1 << 24 });
  const tarballs = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
  expect(tarballs).toHaveLength(PUBLISHED.length);
  await writeFile(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'trellis-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  cpSync(FIXTURES, project, { recursive: true });
  // @types/node as a TypeScript consumer adds it (the .d.ts name node:http's types); better-sqlite3's come with kit.
  const types = [rootDevVersion('@types/node')];
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs.map((t) => join(packs, t)), ...types],
    { cwd: project, env, maxBuffer: 1 << 24 },
  );
}, 300_000);

afterAll(async () => {
  if (scratch !== '') await rm(scratch, { recursive: true, force: true });
}, 60_000);

const project = (): string => join(scratch, 'project');

describe('the packed packages installed in a project outside the repository', () => {
  it('are directories unpacked from the tarballs, each with its built dist/, not links into the repository', () => {
    const scope = join(project(), 'node_modules', '@trellis');
    expect(readdirSync(scope).sort()).toEqual(PUBLISHED);
    for (const name of PUBLISHED) {
      const dir = join(scope, name);
      expect(lstatSync(dir).isSymbolicLink(), `${name} is a link`).toBe(false);
      expect(realpathSync(dir).startsWith(ROOT), `${name} resolves into the repository`).toBe(false);
      expect(existsSync(join(dir, 'dist')), `${name} has no dist/`).toBe(true);
      expect(
        readdirSync(join(dir, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js')),
        `${name}/dist`,
      ).not.toEqual([]);
    }
  });
});

describe('a TypeScript consumer', () => {
  it('type-checks strictly against the shipped .d.ts, which refuse each wrong call it marks', async () => {
    const tsconfig = {
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2023',
        types: ['node'],
        noEmit: true,
        // Every .d.ts checked, ours and the third parties' they import: a declaration that breaks shows here.
        skipLibCheck: false,
      },
      files: ['consumer.ts'],
    };
    const config = join(project(), 'tsconfig.json');
    await writeFile(config, `${JSON.stringify(tsconfig, null, 2)}\n`);
    // Each @ts-expect-error in consumer.ts must meet an error, or tsc fails with TS2578: the types are not `any`.
    // --listFiles: what it read, printed once the check passed.
    const { stdout } = await run(process.execPath, [TSC, '-p', config, '--listFiles'], {
      cwd: project(),
      env: consumerEnv(process.execPath),
    }).catch((err: unknown) => {
      throw new Error(`tsc refused the consumer:\n${(err as { stdout?: string }).stdout ?? ''}`, { cause: err });
    });
    const files = stdout.split('\n').filter((f) => f !== '');
    expect(files).toContain(join(project(), 'node_modules', '@trellis', 'kit', 'dist', 'index.d.ts'));
    expect(files).toContain(join(project(), 'node_modules', '@trellis', 'clients', 'dist', 'security', 'index.d.ts'));
    // Only TypeScript's own lib files come from the repository; no declaration or source of ours does.
    const fromRepository = files.filter((f) => f.startsWith(ROOT) && !f.startsWith(dirname(dirname(TSC))));
    expect(fromRepository).toEqual([]);
  }, 120_000);
});

/** A process run in the scratch project, with its last output lines for a start-up error. */
interface Launched {
  readonly child: ChildProcess;
  readonly tail: string[];
}

/** Starts `node args` in the scratch project; `stops` gets the function that stops it (and it dies with us). */
function launch(node: string, args: readonly string[], env: NodeJS.ProcessEnv, stops: Stop[]): Launched {
  const child = spawn(node, args, { cwd: project(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  keepOutput(child, tail);
  stops.push(own(child));
  return { child, tail };
}

type Stop = (graceMs?: number) => Promise<void>;

interface EurekaInstance {
  readonly app: string;
  readonly hostName: string;
  readonly status: string;
  readonly port: { readonly $: number };
}

async function registeredInstances(registry: string): Promise<EurekaInstance[]> {
  const res = await fetch(`${registry}/eureka/apps`, { headers: { accept: 'application/json' } });
  const body = (await res.json()) as { applications: { application: { instance: EurekaInstance[] }[] } };
  return body.applications.application.flatMap((a) => a.instance);
}

async function instanceOf(registry: string, app: string): Promise<EurekaInstance | undefined> {
  return (await registeredInstances(registry)).find((i) => i.app === app && i.status === 'UP');
}

describe.each(SUPPORTED_NODE_MAJORS)(
  'on Node.js %i, with plain node and no TypeScript',
  (major: SupportedNodeMajor) => {
    const node = nodeBuildBinary(major);
    const cli = (): string => join(project(), 'node_modules', '@trellis', 'cli', 'bin', 'trellis.js');
    const ports = { registry: 0, config: 0, auth: 0 };
    const urls = { registry: '', config: '', issuer: '' };
    const stops: Stop[] = [];

    beforeAll(async () => {
      const data = mkdtempSync(join(scratch, `node${major}-`));
      const repo = join(data, 'config-repo');
      mkdirSync(repo);
      [ports.registry, ports.config, ports.auth] = [await freePort(), await freePort(), await freePort()];
      urls.registry = `http://localhost:${ports.registry}`;
      urls.config = `https://localhost:${ports.config}`;
      urls.issuer = `http://localhost:${ports.auth}`;
      const caFile = join(data, 'config', 'tls', 'ca.pem');
      const env = consumerEnv(node);

      // The caller's OAuth client, put in the auth server's data directory the way the README says.
      const added = await run(
        node,
        [cli(), 'clients', 'add', 'caller', '--scope', 'product:read', '--data-dir', join(data, 'auth')],
        {
          cwd: project(),
          env,
        },
      );
      const secret = (JSON.parse(added.stdout) as { client_secret: string }).client_secret;

      const common = ['--host', '127.0.0.1', '--log-format', 'json'];
      const servers = [
        {
          what: 'registry',
          port: ports.registry,
          args: ['registry', '--port', String(ports.registry), '--data-dir', join(data, 'registry')],
        },
        {
          what: 'config-server',
          port: ports.config,
          // HTTPS from the development CA the server makes in its data directory (no --http).
          args: [
            'config-server',
            '--port',
            String(ports.config),
            '--data-dir',
            join(data, 'config'),
            '--repo',
            repo,
            '--encrypt-key',
            `consumer-key-${major}`,
          ],
        },
        {
          what: 'auth-server',
          port: ports.auth,
          args: [
            'auth-server',
            '--port',
            String(ports.auth),
            '--data-dir',
            join(data, 'auth'),
            '--no-seed-dev-clients',
          ],
        },
      ];
      await Promise.all(
        servers.map(async ({ what, port, args }) => {
          const server = launch(node, [cli(), ...args, ...common], env, stops);
          await untilReady(server.child, {
            probe: () => acceptsConnections('127.0.0.1', port),
            timeoutMs: START_MS,
            pollMs: 100,
            what: `the installed ${what}`,
            notReady: `did not listen on ${port}`,
            tail: server.tail,
          });
        }),
      );

      // The {cipher} value made by the server's own /encrypt, over HTTPS trusting only its development CA.
      const encrypted = await httpsText(`${urls.config}/encrypt`, caFile, PLAINTEXT);
      await writeFile(join(repo, 'caller.yml'), `greeting:\n  secret: '{cipher}${encrypted}'\n`);

      const services = {
        REGISTRY_URL: `${urls.registry}/eureka/`,
        AUTH_ISSUER: urls.issuer,
        CONFIG_URI: urls.config,
        CONFIG_CA_FILE: caFile,
        CLIENT_SECRET: secret,
      };
      const greeter = launch(node, ['service.js'], consumerEnv(node, services), stops);
      const caller = launch(node, ['caller.js'], consumerEnv(node, services), stops);
      for (const [app, service] of [
        ['GREETER', greeter],
        ['CALLER', caller],
      ] as const) {
        await untilReady(service.child, {
          probe: async () => (await instanceOf(urls.registry, app)) !== undefined,
          timeoutMs: START_MS,
          pollMs: 200,
          what: `the ${app.toLowerCase()} service`,
          notReady: 'did not register UP',
          tail: service.tail,
        });
      }
    }, 120_000);

    // The services first (they deregister), then the servers; a service that hangs is killed after 10 s.
    afterAll(async () => {
      for (const stop of stops.splice(0).reverse()) await stop(10_000);
    }, 90_000);

    it('runs the installed trellis command on that Node', async () => {
      const { stdout } = await run(node, [cli(), '--version'], { cwd: project(), env: consumerEnv(node) });
      expect(stdout).toContain(`Node.js v${major}.`);
    });

    it("says the installed command's setup is for the repository's tests, and installs nothing", async () => {
      const failure = await run(node, [cli(), 'setup', '--check'], { cwd: project(), env: consumerEnv(node) }).then(
        () => undefined,
        (err: unknown) => err as { code?: number; stderr?: string },
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stderr).toContain('clone of the repository');
    });

    it('lists both services in the registry, UP at localhost', async () => {
      const instances = await registeredInstances(urls.registry);
      expect(instances.map((i) => `${i.app} ${i.status} ${i.hostName}`).sort()).toEqual([
        'CALLER UP localhost',
        'GREETER UP localhost',
      ]);
    });

    it('gives the caller its decrypted {cipher} value over HTTPS and a token, with which it reaches the greeter through the registry', async () => {
      const callerAt = await instanceOf(urls.registry, 'CALLER');
      const greeterAt = await instanceOf(urls.registry, 'GREETER');
      const res = await fetch(`http://127.0.0.1:${callerAt?.port.$}/report`);
      const report = (await res.json()) as {
        secret: string;
        token: { type: string; expiresIn: number };
        greeter: { status: number; body: unknown; servedBy: string };
        kit: string;
      };
      expect(res.status).toBe(200);
      expect(report.secret).toBe(PLAINTEXT);
      expect(report.token.type).toBe('Bearer');
      expect(report.token.expiresIn).toBeGreaterThan(0);
      expect(report.greeter).toEqual({
        status: 200,
        body: { greeting: 'hello, caller' },
        servedBy: `localhost:${greeterAt?.port.$}`,
      });
      // The caller ran the installed build, not the repository's sources.
      expect(report.kit).toBe(
        pathToFileURL(join(project(), 'node_modules', '@trellis', 'kit', 'dist', 'index.js')).href,
      );
    });

    it('has the greeter refuse a call without a token', async () => {
      const greeterAt = await instanceOf(urls.registry, 'GREETER');
      const res = await fetch(`http://127.0.0.1:${greeterAt?.port.$}/greeting`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="product-api"');
    });
  },
);

describe('the installed trellis up, where there is no config-repo of its own', () => {
  const stops: Stop[] = [];
  afterAll(async () => {
    for (const stop of stops.splice(0)) await stop(15_000);
  }, 60_000);

  it('starts the whole landscape on the configuration @trellis/examples ships, and its gateway answers', async () => {
    const node = nodeBuildBinary(24);
    const cli = join(project(), 'node_modules', '@trellis', 'cli', 'bin', 'trellis.js');
    const ports = ['REGISTRY', 'CONFIG_SERVER', 'AUTH_SERVER', 'GATEWAY', 'GATEWAY_HTTPS', 'PRODUCT_COMPOSITE'];
    const env = consumerEnv(node, {
      ...Object.fromEntries([...ports, 'PRODUCT', 'RECOMMENDATION', 'REVIEW'].map((p) => [`${p}_PORT`, '0'])),
      TRELLIS_DATA_DIR: mkdtempSync(join(scratch, 'up-')),
    });
    expect(existsSync(join(project(), 'config-repo'))).toBe(false);
    const up = launch(node, [cli, 'up'], env, stops);
    let out = '';
    up.child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    await untilReady(up.child, {
      probe: () => Promise.resolve(out.includes('Press Ctrl-C to stop.')),
      timeoutMs: 60_000,
      pollMs: 200,
      what: 'the installed trellis up',
      notReady: 'did not print its summary',
      tail: up.tail,
    });
    const shipped = join(project(), 'node_modules', '@trellis', 'examples', 'dist', 'config-repo');
    expect(out).toContain(`config-server: native repository ${shipped}/`);
    expect(out).toMatch(/gateway: \d+ route\(s\) from \S+\/@trellis\/examples\/dist\/config-repo\/gateway\.yml/);
    const gateway = /^ {2}gateway +(http:\/\/\S+)/m.exec(out)?.[1];
    expect(gateway).toBeDefined();
    const health = await fetch(`${gateway}/actuator/health`);
    expect(health.status).toBe(200);
    // The composite's route is there and checks tokens: refused without one, not 404.
    expect((await fetch(`${gateway}/product-composite/1`)).status).toBe(401);
  }, 120_000);
});
