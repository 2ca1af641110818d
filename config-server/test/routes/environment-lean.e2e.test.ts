// The environment route's lean path (answered before the framework for paths the router already sent to it) must
// give the same answers as the app: same body and headers, the same refusals, and never a body older than the files.
import type { Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogger } from '../../../kit/test/support/logger.ts';
import { startConfigServer, tempRepo } from '../helpers.ts';

const repo = tempRepo({
  'application.yml': 'shared: a\n',
  'product.yml': 'port: 7001\n',
  'review.yml': 'port: 7003\n',
});
const data = tempRepo({});
// At info, as `trellis config-server` logs by default.
const { logger, text: logText } = captureLogger('info');
let running: Running;
let base: string;

const basic = (id: string, secret: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
});
const PRODUCT = basic('product', 'p-secret');
const OPS = basic('ops', 'o-secret');

beforeAll(async () => {
  ({ running, url: base } = await startConfigServer({
    repo: repo.root,
    dataDir: data.root,
    env: { CONFIG_CLIENTS: 'product:p-secret:product;ops:o-secret:*' },
    logger,
  }));
});
afterAll(async () => {
  await running.stop();
  repo.remove();
  data.remove();
});

interface Answer {
  status: number;
  type: string | null;
  cache: string | null;
  challenge: string | null;
  body: string;
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { headers });
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    cache: res.headers.get('cache-control'),
    challenge: res.headers.get('www-authenticate'),
    body: await res.text(),
  };
}

/** Error bodies carry a timestamp; everything else must match exactly. */
const withoutTimestamp = (a: Answer): Answer => ({ ...a, body: a.body.replace(/"timestamp":"[^"]*",/, '') });

describe('GET /{name}/{profiles} answered again for a path already served', () => {
  it('gives the same body and headers, JSON and v2, as the first (framework) answer', async () => {
    const first = await get('/product/default', PRODUCT);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ name: 'product', profiles: ['default'] });
    for (let i = 0; i < 3; i++) expect(await get('/product/default', PRODUCT)).toEqual(first);
    const v2 = { ...PRODUCT, accept: 'application/vnd.spring-cloud.config-server.v2+json' };
    const firstV2 = await get('/product/default', v2);
    expect(firstV2.type).toBe('application/vnd.spring-cloud.config-server.v2+json');
    expect(firstV2.body).not.toBe(first.body);
    expect(await get('/product/default', v2)).toEqual(firstV2);
  });

  it('still refuses a missing credential (401 with the challenge) and another application’s credential (403)', async () => {
    expect((await get('/product/default', PRODUCT)).status).toBe(200);
    const missing = await get('/product/default');
    expect(missing.status).toBe(401);
    expect(missing.challenge).toMatch(/^Basic /);
    expect(missing.body).not.toContain('7001');
    const wrongSecret = await get('/product/default', basic('product', 'nope'));
    expect(wrongSecret.status).toBe(401);
    await get('/review/default', OPS);
    const foreign = await get('/review/default', PRODUCT);
    expect(foreign.status).toBe(403);
    expect(foreign.body).not.toContain('7003');
    expect(withoutTimestamp(await get('/review/default', PRODUCT))).toEqual(withoutTimestamp(foreign));
  });

  it('serves a file change on the next request after the watcher reports it, never the kept body', async () => {
    const before = JSON.parse((await get('/product/default', PRODUCT)).body) as { version: string };
    repo.write('product.yml', 'port: 7101\n');
    const deadline = Date.now() + 5000;
    let body = '';
    while (Date.now() < deadline) {
      body = (await get('/product/default', PRODUCT)).body;
      if (body.includes('7101')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const after = JSON.parse(body) as { version: string; propertySources: { source: Record<string, unknown> }[] };
    expect(after.propertySources[0]?.source).toEqual({ port: 7101 });
    expect(after.version).not.toBe(before.version);
    // And from then on, repeated answers keep the new content.
    for (let i = 0; i < 3; i++) expect((await get('/product/default', PRODUCT)).body).toBe(body);
  });

  it('leaves fixed paths and labels to their own routes', async () => {
    expect((await get('/encrypt/status', OPS)).body).not.toContain('propertySources');
    const labelled = await get('/product/default/main', PRODUCT);
    expect(labelled.status).toBe(200);
    expect(await get('/product/default/main', PRODUCT)).toEqual(labelled);
    expect((await get('/product/default/nope', PRODUCT)).status).toBe(404);
  });
});

describe('request lines', () => {
  const completed = (path: string): { level: number; res: { statusCode: number } }[] =>
    logText()
      .split('\n')
      .filter((l) => l.includes('"request completed"') && l.includes(`"url":"${path}"`))
      .map((l) => JSON.parse(l) as { level: number; res: { statusCode: number } });

  it('keeps fetches (framework and lean answers) at debug, as Spring Cloud Config does, and refusals at info', async () => {
    expect((await get('/review/logged', OPS)).status).toBe(200);
    expect((await get('/review/logged', OPS)).status).toBe(200);
    expect((await get('/review/logged')).status).toBe(401);
    expect((await get('/review/logged', PRODUCT)).status).toBe(403);
    await new Promise((r) => setImmediate(r)); // lines reach the destination once per event-loop turn
    expect(completed('/review/logged').map((l) => [l.level, l.res.statusCode])).toEqual([
      [30, 401],
      [30, 403],
    ]);
  });
});
