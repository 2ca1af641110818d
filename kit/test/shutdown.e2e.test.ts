import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { StartupError } from '../src/errors.ts';
import { createService } from '../src/service.ts';
import { captureLogger } from './support/logger.ts';

const fixture = fileURLToPath(new URL('./fixtures/slow-service.ts', import.meta.url));

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function startFixture(
  port = 0,
): Promise<{ child: ChildProcessWithoutNullStreams; port: number; out: () => string; err: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, String(port)], { stdio: 'pipe' });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), out: () => out, err: () => err });
    });
    child.on('exit', (code) => reject(new Error(`fixture exited ${code}: ${err}`)));
  });
}

describe('graceful shutdown of a service process', () => {
  it('on SIGTERM finishes the in-flight request, refuses new connections, runs hooks in reverse order and exits 0', async () => {
    const { child, port, out } = await startFixture();
    const inFlight = get(`http://127.0.0.1:${port}/slow?ms=400`);
    await new Promise((r) => setTimeout(r, 100));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    await expect(get(`http://127.0.0.1:${port}/slow`)).rejects.toThrow(/ECONNREFUSED/);
    expect(await inFlight).toEqual({ status: 200, body: 'done' });
    expect(await exited).toBe(0);
    expect(out()).toMatch(/hook second\nhook first\n/);
  });

  it('exits 2 with one line when the port is in use', async () => {
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, String(port)], { stdio: 'pipe' });
      children.push(child);
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(2);
      expect(err).toBe(`trellis: slow: port ${port} is already in use (set with --port)\n`);
    } finally {
      blocker.close();
    }
  });
});

describe('Service.stop()', () => {
  it('drains within the bound and cuts a request that takes longer', async () => {
    const { logger, lines } = captureLogger();
    const service = createService({ name: 'demo', logger, git: false, drainTimeoutMs: 100 });
    service.app.get('/hang', () => new Promise<Response>(() => undefined));
    const { port } = await service.listen({ port: 0, host: '127.0.0.1' });
    const hung = get(`http://127.0.0.1:${port}/hang`).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await service.stop();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await hung).toBeInstanceOf(Error);
    expect(lines.some((l) => l.msg === 'drain timed out; closing remaining connections')).toBe(true);
    expect(service.stopping.aborted).toBe(true);
  });

  it('throws a StartupError for a port already in use', async () => {
    const { logger } = captureLogger();
    const a = createService({ name: 'a', logger, git: false });
    const b = createService({ name: 'b', logger, git: false });
    const { port } = await a.listen({ port: 0, host: '127.0.0.1' });
    await expect(b.listen({ port, host: '127.0.0.1' })).rejects.toThrow(
      new StartupError(`b: port ${port} is already in use`),
    );
    await a.stop();
    await b.stop();
  });
});

describe('health probes over a socket', () => {
  it('answer with the same status and body as the routes, and carry the request id', async () => {
    const { logger } = captureLogger();
    const service = createService({ name: 'demo', logger, git: false });
    service.health.register('broker', () => ({ status: 'DOWN', details: { error: 'refused' } }), {
      groups: ['readiness'],
    });
    const { port } = await service.listen({ port: 0, host: '127.0.0.1' });
    try {
      for (const path of ['/actuator/health', '/actuator/health/readiness', '/actuator/health/liveness']) {
        const viaRoute = await service.app.request(path);
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-request-id': 'probe-1' } });
        expect(res.status).toBe(viaRoute.status);
        expect(await res.json()).toEqual(await viaRoute.json());
        expect(res.headers.get('x-request-id')).toBe('probe-1');
        expect(res.headers.get('content-type')).toBe('application/json');
      }
      expect((await fetch(`http://127.0.0.1:${port}/actuator/health`)).status).toBe(503);
      // show-details never by default: the broker's error stays on the server.
      expect(await (await fetch(`http://127.0.0.1:${port}/actuator/health/readiness`)).json()).toEqual({
        status: 'DOWN',
      });
    } finally {
      await service.stop();
    }
  });
});

describe('Service.stop() with keep-alive clients', () => {
  it('does not wait for a pooled connection whose response finished during the drain', async () => {
    const { logger } = captureLogger();
    const service = createService({ name: 'demo', logger, git: false });
    service.app.get('/slow', async (c) => {
      await new Promise((r) => setTimeout(r, 200));
      return c.text('done');
    });
    const { port } = await service.listen({ port: 0, host: '127.0.0.1' });
    const agent = new http.Agent({ keepAlive: true });
    const pending = new Promise<number>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${port}/slow`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await service.stop();
    expect(await pending).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
    agent.destroy();
  });
});

describe('request logging over a socket', () => {
  it('logs the real status of a response written to the node response directly', async () => {
    const { logger, lines } = captureLogger();
    const service = createService({ name: 'demo', logger, git: false });
    service.app.get('/raw', (c) => {
      c.env.outgoing.writeHead(418, { 'content-type': 'text/plain' }).end('teapot');
      return RESPONSE_ALREADY_SENT;
    });
    const { port } = await service.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`http://127.0.0.1:${port}/raw`);
      expect(res.status).toBe(418);
      const done = lines.find((l) => l.msg === 'request completed') as unknown as { res: { statusCode: number } };
      expect(done.res.statusCode).toBe(418);
    } finally {
      await service.stop();
    }
  });
});
