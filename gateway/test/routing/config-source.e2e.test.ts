// Routes from a real config server (native backend, plain HTTP on loopback): read from its flattened Environment,
// replaced when its watch stream reports a change, ranked against the routes file and the runtime API.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, StartupError, type Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as undiciRequest } from 'undici';
import { configServerComponent } from '../../../config-server/src/index.ts';
import {
  call,
  client,
  echo,
  silent,
  startTestGateway,
  admin,
  ADMIN_ARGV,
  startUpstream,
  until,
  type Echoed,
  type TestGateway,
  type Upstream,
} from '../helpers.ts';

/** The gateway's config server credential, sent as the URI's user info (Basic), as `trellis up` wires it. */
const SECRET = 'gw-config-secret-123';

interface Health {
  status: string;
  components: Record<string, { status: string; details?: Record<string, unknown> }>;
}

interface Summary {
  route_id: string;
  source: string;
}

/** One HTTP/1.1 connection kept open across requests, to show a table swap does not close it. */
class KeepAlive {
  readonly #socket: net.Socket;
  #buffer = '';

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (this.#buffer += d));
  }

  static async open(port: number): Promise<KeepAlive> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new KeepAlive(socket);
  }

  get closed(): boolean {
    return this.#socket.destroyed || this.#socket.readableEnded;
  }

  /** Sends a GET and resolves to the status and body of its (content-length framed) answer. */
  async get(path: string): Promise<{ status: number; body: string }> {
    this.#buffer = '';
    this.#socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n\r\n`);
    let parsed: { status: number; body: string } | undefined;
    await until(() => {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end === -1) return false;
      const head = this.#buffer.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 'NaN');
      const body = this.#buffer.slice(end + 4);
      if (body.length < length) return false;
      parsed = { status: Number(head.split(' ')[1]), body: body.slice(0, length) };
      return true;
    }, 3000);
    if (parsed === undefined) throw new Error('no answer');
    return parsed;
  }

  close(): void {
    this.#socket.destroy();
  }
}

describe('routes from the config server', () => {
  let repo: string;
  let data: string;
  let configServer: Running;
  let configUri: string;
  let backend: Upstream;
  let other: Upstream;
  let slow: Upstream;
  let gateway: TestGateway;
  let configServerStopped = false;

  const writeGatewayYml = (text: string): Promise<void> => writeFile(join(repo, 'gateway.yml'), text);
  const health = async (): Promise<Health> => (await call(`${gateway.url}/actuator/health`)).json<Health>();
  const routeIds = async (): Promise<string[]> =>
    (await admin(`${gateway.url}/actuator/gateway/routes`)).json<Summary[]>().map((r) => r.route_id);

  const initialRoutes = `
spring:
  cloud:
    gateway:
      routes:
        - id: alpha
          uri: \${backend.url}
          predicates:
            - Path=/alpha/**
          filters:
            - StripPrefix=1
            - name: AddResponseHeader
              args:
                name: X-Route
                value: alpha
        - id: stream
          uri: \${slow.url}
          predicates:
            - Path=/stream
`;

  beforeAll(async () => {
    backend = await startUpstream(echo);
    other = await startUpstream((req, res) => res.end(`other ${req.url ?? ''}`));
    slow = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('start-');
      setTimeout(() => res.end('end'), 600);
    });
    repo = await mkdtemp(join(tmpdir(), 'gateway-config-repo-'));
    data = await mkdtemp(join(tmpdir(), 'gateway-config-data-'));
    // Placeholders resolve against every source the server sends (application.yml here), as a Spring client does.
    await writeFile(join(repo, 'application.yml'), `backend:\n  url: ${backend.url}\nslow:\n  url: ${slow.url}\n`);
    await writeGatewayYml(initialRoutes);
    const settings = loadSettings(configServerComponent.settings, {
      argv: ['--port', '0', '--host', '127.0.0.1', '--repo', repo, '--data-dir', data, '--http'],
      // Only the gateway's credential may read the application gateway.
      env: { CONFIG_CLIENTS: `gateway:${SECRET}:gateway` },
    });
    configServer = await configServerComponent.start(settings, { logger: silent, env: {} });
    configUri = configServer.endpoints[0]?.url.replace('localhost', `gateway:${SECRET}@127.0.0.1`) ?? '';
    gateway = await startTestGateway(
      `
spring.cloud.gateway:
  default-filters:
    - AddResponseHeader=X-From-File, yes
  routes:
    - id: file-only
      uri: ${other.url}
      predicates: [Path=/file/**]
`,
      // Health says why a route set was refused in its details.
      { argv: ['--config-uri', configUri, '--health-show-details', 'always', ...ADMIN_ARGV] },
    );
  });

  afterAll(async () => {
    await gateway.stop();
    if (!configServerStopped) await configServer.stop();
    await Promise.all([backend.close(), other.close(), slow.close()]);
    await rm(repo, { recursive: true, force: true });
    await rm(data, { recursive: true, force: true });
  });

  it("serves the server's flattened routes with placeholders from its other sources, over the file's route list", async () => {
    const alpha = await call(`${gateway.url}/alpha/x?q=1`);
    expect(alpha.status).toBe(200);
    expect(alpha.json<Echoed>().url).toBe('/x?q=1');
    expect(alpha.headers['x-route']).toBe('alpha');
    // The file's default-filters still apply: the config server does not set that part.
    expect(alpha.headers['x-from-file']).toBe('yes');
    // The config server sets routes, so its list replaces the file's whole (Spring's list binding).
    expect((await call(`${gateway.url}/file/x`)).status).toBe(404);
    const list = (await admin(`${gateway.url}/actuator/gateway/routes`)).json<Summary[]>();
    expect(list.map((r) => [r.route_id, r.source])).toEqual([
      ['alpha', 'config'],
      ['stream', 'config'],
    ]);
    const h = await health();
    expect(h.components.routes?.status).toBe('UP');
    expect(h.components.config?.status).toBe('UP');
    expect(h.components.config?.details?.watch).toBe('connected');
    expect(JSON.stringify(h)).not.toContain(SECRET);
  });

  it('replaces the table when the watch stream reports a change, without closing connections or streams', async () => {
    const socket = await KeepAlive.open(gateway.port);
    expect((await socket.get('/alpha/before')).status).toBe(200);
    const streaming = undiciRequest(`${gateway.url}/stream`, { dispatcher: client }).then((r) => r.body.text());
    await new Promise((r) => setTimeout(r, 50));
    await writeGatewayYml(
      `${initialRoutes}        - id: beta
          uri: ${other.url}
          predicates:
            - Path=/beta/**
`,
    );
    await until(async () => (await call(`${gateway.url}/beta/1`)).status === 200);
    const again = await socket.get('/beta/2');
    expect(again).toEqual({ status: 200, body: 'other /beta/2' });
    expect(socket.closed).toBe(false);
    expect(await streaming).toBe('start-end');
    socket.close();
  });

  it("keeps the working table when the server's route set is broken, and health says why", async () => {
    await writeGatewayYml(
      `${initialRoutes}        - id: beta
          uri: ${other.url}
          predicates:
            - Path=/beta/**
          filters:
            - NoSuchFilter=1
`,
    );
    await until(async () => (await health()).components.routes?.status === 'UNKNOWN');
    const h = await health();
    // One refused push must not take the gateway out of its load balancer.
    expect(h.status).toBe('UP');
    expect(JSON.stringify(h.components.routes?.details)).toMatch(/route beta: filter NoSuchFilter: unknown filter/);
    expect(String(h.components.routes?.details?.reason)).toMatch(/config server .* were refused/);
    // The previous table is still in force.
    expect((await call(`${gateway.url}/beta/still`)).text).toBe('other /beta/still');
    // An explicit refresh of the same broken set is refused too, with the reason.
    const refresh = await admin(`${gateway.url}/actuator/gateway/refresh`, { method: 'POST' });
    expect(refresh.status).toBe(400);
    expect(refresh.json<{ error: string }>().error).toBe('invalid_route');
    expect(refresh.json<{ message: string }>().message).toMatch(/NoSuchFilter/);
    // Fixed on the server: applied, and health is UP again.
    await writeGatewayYml(
      `${initialRoutes}        - id: beta
          uri: ${other.url}
          predicates:
            - Path=/beta/**
          filters:
            - SetStatus=202
`,
    );
    await until(async () => (await call(`${gateway.url}/beta/x`)).status === 202);
    expect((await health()).components.routes?.status).toBe('UP');
  });

  it("lets runtime routes override the server's, keeps them across its changes, and refuses to delete its routes", async () => {
    const created = await admin(`${gateway.url}/actuator/gateway/routes/beta`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: backend.url, predicates: ['Path=/beta/**'], filters: ['SetPath=/runtime'] }),
    });
    expect(created.status).toBe(200);
    expect((await call(`${gateway.url}/beta/x`)).json<Echoed>().url).toBe('/runtime');
    await writeGatewayYml(
      `${initialRoutes}        - id: beta
          uri: ${other.url}
          predicates:
            - Path=/beta/**
        - id: gamma
          uri: ${other.url}
          predicates:
            - Path=/gamma
`,
    );
    await until(async () => (await routeIds()).includes('gamma'));
    // The runtime route survived the change and still wins over the server's route of the same id.
    expect((await call(`${gateway.url}/beta/x`)).json<Echoed>().url).toBe('/runtime');
    const refused = await admin(`${gateway.url}/actuator/gateway/routes/gamma`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(refused.json<{ error: string }>().error).toBe('route_conflict');
    expect(refused.json<{ message: string }>().message).toMatch(/config server/);
    expect((await admin(`${gateway.url}/actuator/gateway/routes/beta`, { method: 'DELETE' })).status).toBe(200);
    expect((await call(`${gateway.url}/beta/x`)).text).toBe('other /beta/x');
  });

  it('falls back to the routes file when the server stops setting routes', async () => {
    await writeGatewayYml('spring.cloud.gateway.httpclient.response-timeout: 5s\n');
    await until(async () => (await call(`${gateway.url}/file/x`)).status === 200);
    expect((await call(`${gateway.url}/file/x`)).text).toBe('other /file/x');
    expect((await call(`${gateway.url}/alpha/x`)).status).toBe(404);
    expect((await routeIds()).sort()).toEqual(['file-only']);
    await writeGatewayYml(initialRoutes);
    await until(async () => (await call(`${gateway.url}/alpha/x`)).status === 200);
  });

  it('refuses to start on a broken route set from the server, naming the server and the route', async () => {
    await writeGatewayYml(
      `spring.cloud.gateway.routes:\n  - id: broken\n    uri: ${other.url}\n    predicates: [Nope=1]\n`,
    );
    const started = startTestGateway('', { argv: ['--config-uri', configUri] });
    await expect(started).rejects.toThrow(StartupError);
    await expect(started).rejects.toThrow(/config server .*route broken: predicate Nope/);
    await expect(started).rejects.not.toThrow(SECRET);
    // A wrong credential is refused at start, naming the setting.
    const wrong = startTestGateway('', { argv: ['--config-uri', configUri.replace(SECRET, 'nope')] });
    await expect(wrong).rejects.toThrow(/--config-uri/);
    // The running gateway refused the same push and kept its table.
    await until(async () => (await health()).components.routes?.status === 'UNKNOWN');
    expect((await call(`${gateway.url}/alpha/x`)).status).toBe(200);
    await writeGatewayYml(initialRoutes);
    await until(async () => (await health()).components.routes?.status === 'UP');
  });

  it('keeps its routes when the config server goes away, and answers a refresh then with 503, not 500', async () => {
    await configServer.stop();
    configServerStopped = true;
    expect((await call(`${gateway.url}/alpha/x`)).status).toBe(200);
    const refresh = await admin(`${gateway.url}/actuator/gateway/refresh`, { method: 'POST' });
    expect(refresh.status).toBe(503);
    expect(refresh.json<{ error: string }>().error).toBe('service_unavailable');
    expect(refresh.json<{ message: string }>().message).toMatch(/cannot be reached.*routes in force are kept/);
    expect(refresh.text).not.toContain(SECRET);
    expect((await call(`${gateway.url}/alpha/x`)).status).toBe(200);
    const h = await health();
    expect(h.status).toBe('UP');
    expect(h.components.config?.status).toBe('UNKNOWN');
    // The routes are fine; only the server is away, which the config component reports.
    expect(h.components.routes?.status).toBe('UP');
  });
});
