import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, type Service } from '../src/service.ts';
import { captureLogger } from './support/logger.ts';

describe('lean routes over a socket', () => {
  const mem = captureLogger('debug');
  let service: Service;
  let base: string;
  const seen: { path: string; search: string }[] = [];

  beforeAll(async () => {
    service = createService({ name: 'demo', logger: mem.logger, git: false });
    service.leanRoute({
      method: 'PUT',
      uri: '/apps/{app}/{id}',
      answer: (req) => {
        seen.push({ path: req.path, search: req.search });
        if (!req.path.startsWith('/beats/')) return undefined;
        if (req.path === '/beats/boom') throw new Error('lean handler broke');
        if (req.path === '/beats/missing') return { status: 404 };
        return { status: 200, body: `beat ${req.requestId}`, logLevel: 'debug' };
      },
    });
    service.app.put('/beats/:id', (c) => c.text('from the app', 200));
    service.app.put('/other', (c) => c.text('other from the app'));
    base = `http://127.0.0.1:${(await service.listen({ port: 0, host: '127.0.0.1' })).port}`;
  });
  afterAll(() => service.stop());

  const completed = (): { url: string; level: number; status: number }[] =>
    mem.lines
      .filter((l) => l.msg === 'request completed')
      .map((l) => {
        const line = l as unknown as { level: number; req: { url: string }; res: { statusCode: number } };
        return { url: line.req.url, level: line.level, status: line.res.statusCode };
      });

  it('answers before the app, with the request id, a content-length and a request line at the level it chose', async () => {
    const res = await fetch(`${base}/beats/7?status=UP`, { method: 'PUT', headers: { 'x-request-id': 'rid-1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('rid-1');
    expect(res.headers.get('content-length')).toBe('10');
    expect(await res.text()).toBe('beat rid-1');
    expect(seen.at(-1)).toEqual({ path: '/beats/7', search: 'status=UP' });
    expect(completed().at(-1)).toEqual({ url: '/beats/7?status=UP', level: 20, status: 200 });
    const missing = await fetch(`${base}/beats/missing`, { method: 'PUT' });
    expect([missing.status, await missing.text()]).toEqual([404, '']);
    expect(completed().at(-1)).toEqual({ url: '/beats/missing', level: 30, status: 404 });
  });

  it('leaves to the app what it declines, other methods and every request with a body', async () => {
    expect(await (await fetch(`${base}/other`, { method: 'PUT' })).text()).toBe('other from the app');
    const before = seen.length;
    expect(await (await fetch(`${base}/beats/7`, { method: 'PUT', body: 'x' })).text()).toBe('from the app');
    // The app serves /beats/:id with PUT only: GET there is 405, which names what is served.
    const get = await fetch(`${base}/beats/7`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'PUT']);
    expect(seen.length).toBe(before);
  });

  it('answers 500 server_error when it throws, and logs the error', async () => {
    const res = await fetch(`${base}/beats/boom`, { method: 'PUT' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'server_error' });
    expect(mem.text()).toContain('lean handler broke');
    expect(completed().at(-1)).toEqual({ url: '/beats/boom', level: 50, status: 500 });
  });
});
