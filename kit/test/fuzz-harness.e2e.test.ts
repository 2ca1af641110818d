// The fuzz harness itself: schemathesis on a kit service passes a sound API and names a 500 and a refused write that changed state.
import { afterEach, describe, expect, it } from 'vitest';
import { documented } from '../src/openapi.ts';
import { createService, type Service } from '../src/service.ts';
import { captureLogger } from './support/logger.ts';
import { fuzz } from './support/schemathesis.ts';

const ITEM = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 20, pattern: '^[a-z]+$' } },
} as const;

/** A tiny item store; `flawed` plants the two bugs the fuzzer must find. */
function itemService(flawed: boolean): Service {
  const service = createService({ name: 'items', logger: captureLogger('silent').logger, git: false, apiDocs: {} });
  const items: string[] = [];
  service.app.get(
    '/items',
    documented(
      {
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 100 } }],
        responses: {
          400: { description: 'limit not a number from 0 to 100' },
          200: {
            description: 'all items',
            content: { 'application/json': { schema: { type: 'array', items: { type: 'string' } } } },
          },
        },
      },
      (c) => {
        const raw = c.req.query('limit');
        const limit = raw === undefined ? 100 : Number(raw);
        if (flawed && limit < 0) throw new Error('negative limit'); // checked too late
        if (!/^\d{1,3}$/.test(raw ?? '100') || limit > 100) return c.json({ error: 'limit: 0 to 100' }, 400);
        return c.json(items.slice(0, limit));
      },
    ),
  );
  service.app.post(
    '/items',
    documented(
      {
        requestBody: { required: true, content: { 'application/json': { schema: { ...ITEM, required: ['name'] } } } },
        responses: {
          201: { description: 'stored' },
          400: {
            description: 'not an item',
            content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' } } } } },
          },
        },
      },
      async (c) => {
        const body: unknown = await c.req.json().catch(() => undefined);
        const name = (body as { name?: unknown } | undefined)?.name;
        const valid =
          typeof body === 'object' &&
          body !== null &&
          Object.keys(body).length === 1 &&
          typeof name === 'string' &&
          /^[a-z]{1,20}$/.test(name);
        if (flawed && typeof name === 'string') items.push(name); // stored before it is checked
        if (!valid) {
          return c.json({ error: 'expected {"name": "<1-20 lower-case letters>"}' }, 400);
        }
        if (!flawed) items.push(name);
        return c.body(null, 201);
      },
    ),
  );
  return service;
}

describe('the fuzz harness', () => {
  let service: Service | undefined;
  afterEach(async () => service?.stop());

  it('passes a sound API after testing each operation', async () => {
    service = itemService(false);
    const { url } = await service.listen({ port: 0, host: '127.0.0.1' });
    const base = url.replace('localhost', '127.0.0.1');
    const result = await fuzz({ baseUrl: base, maxSeconds: 10, state: { urls: [`${base}/items`] } });
    expect(result.failures, result.output).toEqual([]);
    expect(result.operations).toBeGreaterThanOrEqual(3);
  }, 90_000);

  it('names a 500 and a refused write that changed the stored state', async () => {
    service = itemService(true);
    const { url } = await service.listen({ port: 0, host: '127.0.0.1' });
    const base = url.replace('localhost', '127.0.0.1');
    const result = await fuzz({ baseUrl: base, maxSeconds: 10, state: { urls: [`${base}/items`] } });
    const messages = result.failures.map((f) => f.message).join('\n');
    expect(messages).toMatch(/Server error/i);
    expect(messages).toMatch(/refused with 4\d\d but the stored state changed/);
  }, 90_000);
});
