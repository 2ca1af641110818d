import { describe, expect, it } from 'vitest';
import type { SmartRouter } from 'hono/router/smart-router';
import { TrellisError } from '../src/errors.ts';
import { createService, type ServiceOptions } from '../src/service.ts';
import { captureLogger } from './support/logger.ts';

class DemoError extends TrellisError<'bad_thing' | 'broken'> {
  get status(): number {
    return { bad_thing: 422, broken: 500 }[this.code];
  }
}

function demo(options: Pick<ServiceOptions, 'healthShowDetails'> = {}) {
  const mem = captureLogger();
  const service = createService({
    name: 'demo',
    version: '1.2.3',
    logger: mem.logger,
    bodyLimit: 64,
    git: { branch: 'main', commit: { id: 'a'.repeat(40) } },
    ...options,
  });
  return { service, ...mem };
}

describe('GET /actuator/health', () => {
  it('answers UP with named components when all are UP, with show-details always', async () => {
    const { service } = demo({ healthShowDetails: 'always' });
    service.health.register('db', () => ({ status: 'UP', details: { database: 'SQLite' } }), { groups: ['readiness'] });
    const res = await service.app.request('/actuator/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'UP',
      components: {
        livenessState: { status: 'UP' },
        readinessState: { status: 'UP' },
        db: { status: 'UP', details: { database: 'SQLite' } },
      },
    });
  });

  it('answers 503 when a component is DOWN, and the readiness group follows it while liveness stays UP', async () => {
    const { service } = demo();
    service.health.register('broker', () => ({ status: 'DOWN' }), { groups: ['readiness'] });
    const all = await service.app.request('/actuator/health');
    expect(all.status).toBe(503);
    expect(((await all.json()) as { status: string }).status).toBe('DOWN');
    expect((await service.app.request('/actuator/health/readiness')).status).toBe(503);
    const live = await service.app.request('/actuator/health/liveness');
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'UP' });
  });

  it('shows the status alone by default (show-details never), on the groups and components too', async () => {
    const { service } = demo();
    service.health.register('broker', () => ({ status: 'DOWN', details: { url: 'amqp://broker:5672' } }), {
      groups: ['readiness'],
    });
    for (const path of ['/actuator/health', '/actuator/health/readiness', '/actuator/health/broker']) {
      const res = await service.app.request(path);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'DOWN' });
    }
    expect(await (await service.app.request('/actuator/health/liveness')).json()).toEqual({ status: 'UP' });
  });

  it('shows details to the requests the policy authorizes with when-authorized, component statuses to others', async () => {
    const { service } = demo({ healthShowDetails: 'when-authorized' });
    service.health.register('db', () => ({ status: 'UP', details: { path: '/srv/data/db.sqlite' } }));
    const unauthorized = await service.app.request('/actuator/health/db');
    expect(await unauthorized.json()).toEqual({ status: 'UP' });
    service.restrictHealthDetails((header) => header('authorization') === 'Bearer ops');
    const summary = (await (await service.app.request('/actuator/health')).json()) as { components: object };
    expect(summary.components).toEqual({
      livenessState: { status: 'UP' },
      readinessState: { status: 'UP' },
      db: { status: 'UP' },
    });
    const authorized = await service.app.request('/actuator/health/db', { headers: { authorization: 'Bearer ops' } });
    expect(await authorized.json()).toEqual({ status: 'UP', details: { path: '/srv/data/db.sqlite' } });
  });

  it('answers 503 OUT_OF_SERVICE on readiness once shutdown begins', async () => {
    const { service } = demo();
    await service.stop();
    const res = await service.app.request('/actuator/health/readiness');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { status: string }).status).toBe('OUT_OF_SERVICE');
  });

  it('shows one component by name and 404 for an unknown one', async () => {
    const { service } = demo();
    service.health.register('db', () => ({ status: 'UP' }));
    expect(await (await service.app.request('/actuator/health/db')).json()).toEqual({ status: 'UP' });
    expect((await service.app.request('/actuator/health/nope')).status).toBe(404);
  });
});

describe('routing', () => {
  it('leaves hono its regular-expression router: the actuator routes put no literal beside a parameter', async () => {
    const { service } = demo();
    service.app.get('/things/:id', (c) => c.text(c.req.param('id')));
    expect(await (await service.app.request('/things/7')).text()).toBe('7');
    expect((service.app.router as SmartRouter<unknown>).activeRouter.name).toBe('RegExpRouter');
    expect((await service.app.request('/actuator/health/liveness')).status).toBe(200);
  });
});

describe('GET /actuator/info', () => {
  it('shows name, version and git commit', async () => {
    const { service } = demo();
    expect(await (await service.app.request('/actuator/info')).json()).toEqual({
      app: { name: 'demo', version: '1.2.3' },
      git: { branch: 'main', commit: { id: 'a'.repeat(40) } },
    });
  });
});

describe('errors and limits', () => {
  it('renders a package error with its code and status', async () => {
    const { service } = demo();
    service.app.get('/bad', () => {
      throw new DemoError('bad_thing', 'the thing is bad: use a good one');
    });
    const res = await service.app.request('/bad');
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({ error: 'bad_thing', message: 'the thing is bad: use a good one' });
  });

  it('answers 500 server_error without the internal message, and logs the detail', async () => {
    const { service, text } = demo();
    service.app.get('/boom', () => {
      throw new Error('db password=hunter2 at /internal/path');
    });
    const res = await service.app.request('/boom');
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).toBe('{"error":"server_error"}');
    expect(text()).toContain('request failed');
  });

  it('answers 404 JSON for an unknown route', async () => {
    const { service } = demo();
    const res = await service.app.request('/nowhere', { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found', message: 'no route for POST /nowhere' });
  });

  it('answers 413 for a body over the limit before the handler reads it', async () => {
    const { service } = demo();
    let called = false;
    service.app.post('/upload', async (c) => {
      called = true;
      return c.text(await c.req.text());
    });
    const res = await service.app.request('/upload', {
      method: 'POST',
      body: 'x'.repeat(65),
      headers: { 'content-length': '65' },
    });
    expect(res.status).toBe(413);
    expect(called).toBe(false);
    expect((await service.app.request('/upload', { method: 'POST', body: 'ok' })).status).toBe(200);
  });

  it('keeps a well-formed incoming request id and replaces a malformed one', async () => {
    const { service } = demo();
    service.app.get('/x', (c) => c.text(c.var.requestId));
    const kept = await service.app.request('/x', { headers: { 'x-request-id': 'abc-123' } });
    expect(kept.headers.get('x-request-id')).toBe('abc-123');
    const replaced = await service.app.request('/x', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
