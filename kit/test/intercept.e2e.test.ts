import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, type Service } from '../src/service.ts';
import { captureLogger } from './support/logger.ts';

describe('interceptors over a socket', () => {
  const mem = captureLogger('debug');
  let service: Service;
  let base: string;
  const seen: string[] = [];

  beforeAll(async () => {
    service = createService({ name: 'demo', logger: mem.logger, git: false });
    service.intercept((req, res, kit) => {
      seen.push(`first ${req.url ?? ''}`);
      if (req.url !== '/taken') return false;
      const started = performance.now();
      res.writeHead(202, { 'x-request-id': kit.requestId(req) }).end('taken');
      kit.logCompleted(req, 202, started, 'debug');
      return true;
    });
    service.intercept((req, res) => {
      seen.push(`second ${req.url ?? ''}`);
      if (req.url !== '/screened') return false;
      // Handed on later, as a screening proxy does once it has decided.
      setTimeout(() => service.serveApp(req, res), 5);
      return true;
    });
    service.app.get('/screened', (c) => c.text(`app ${c.var.requestId}`));
    service.app.get('/plain', (c) => c.text('plain'));
    base = `http://127.0.0.1:${(await service.listen({ port: 0, host: '127.0.0.1' })).port}`;
  });
  afterAll(() => service.stop());

  it('takes a request before the probes and the app, with the request id and a request line', async () => {
    const res = await fetch(`${base}/taken`, { headers: { 'x-request-id': 'rid-7' } });
    expect([res.status, await res.text(), res.headers.get('x-request-id')]).toEqual([202, 'taken', 'rid-7']);
    const line = mem.lines.filter((l) => l.msg === 'request completed').at(-1);
    expect(line).toMatchObject({ level: 20, reqId: 'rid-7', req: { method: 'GET', url: '/taken' } });
    seen.length = 0;
    expect((await fetch(`${base}/actuator/health`)).status).toBe(200);
    expect(seen).toEqual(['first /actuator/health', 'second /actuator/health']);
  });

  it('passes on what it declines, in order of addition, and the app answers', async () => {
    seen.length = 0;
    const res = await fetch(`${base}/plain`);
    expect(await res.text()).toBe('plain');
    expect(res.headers.get('x-request-id')).toMatch(/^[\w-]{36}$/);
    expect(seen).toEqual(['first /plain', 'second /plain']);
  });

  it('hands a request it took over to the app later, which keeps the request id', async () => {
    const res = await fetch(`${base}/screened`, { headers: { 'x-request-id': 'rid-8' } });
    expect([await res.text(), res.headers.get('x-request-id')]).toEqual(['app rid-8', 'rid-8']);
  });
});
