// The per-application rule over real sockets, where the environment route has a lean path that answers kept bodies
// before the framework, and watch streams tell clients what changed.
import type { Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConfigServer, tempRepo } from '../helpers.ts';

const repo = tempRepo({
  'application.yml': 'shared: a\n',
  'product.yml': 'port: 7001\n',
  'product-composite.yml': 'composite.secret: PC_MARKER\n',
});
const data = tempRepo({});
let running: Running;
let base: string;

const PRODUCT = { 'x-config-token': 'p-secret' };
const OPS = { 'x-config-token': 'o-secret' };

beforeAll(async () => {
  ({ running, url: base } = await startConfigServer({
    repo: repo.root,
    dataDir: data.root,
    env: { CONFIG_CLIENTS: 'product:p-secret:product;pc:pc-secret:product-composite;ops:o-secret:*' },
  }));
});
afterAll(async () => {
  await running.stop();
  repo.remove();
  data.remove();
});

async function text(path: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(`${base}${path}`, { headers });
  expect(res.status, path).toBe(200);
  return res.text();
}

describe('the lean path', () => {
  it('never hands a limited client the body kept for an unrestricted one', async () => {
    // The unrestricted client's answers put /product/composite on the lean path, with product-composite.yml in it.
    for (let i = 0; i < 3; i++) expect(await text('/product/composite', OPS)).toContain('PC_MARKER');
    for (let i = 0; i < 3; i++) {
      const body = await text('/product/composite', PRODUCT);
      expect(body).not.toContain('PC_MARKER');
      expect(body).toContain('7001');
    }
    // And the other way round: the limited body kept last is not what the unrestricted client gets.
    expect(await text('/product/composite', OPS)).toContain('PC_MARKER');
  });
});

interface Event {
  readonly event: string;
  readonly data: { version: string | null; changed?: string[] };
}

/** The SSE events of a stream, one at a time; undefined when none came within `ms`. */
function events(body: ReadableStream<Uint8Array>): (ms: number) => Promise<Event | undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let pending: ReturnType<typeof reader.read> | undefined;
  return async (ms) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const json = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && json !== undefined) return { event, data: JSON.parse(json) as Event['data'] };
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      pending ??= reader.read();
      const read = await Promise.race([pending, new Promise<undefined>((r) => setTimeout(() => r(undefined), left))]);
      if (read === undefined) return undefined;
      pending = undefined;
      if (read.done) return undefined;
      buffer += decoder.decode(read.value, { stream: true });
    }
  };
}

describe('watch streams', () => {
  it("tell a limited client nothing of another application's document its profile would have read", async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/watch/product/composite`, { headers: PRODUCT, signal: controller.signal });
    expect(res.status).toBe(200);
    if (res.body === null) throw new Error('no body');
    const next = events(res.body);
    const ready = await next(2000);
    expect(ready?.event).toBe('ready');

    repo.write('product-composite.yml', 'composite.secret: PC_MARKER\ncomposite.added: x\n');
    // Neither the key names nor a new version: the change is not this client's to hear of.
    expect(await next(400)).toBeUndefined();

    repo.write('product.yml', 'port: 7002\n');
    const change = await next(2000);
    expect(change?.event).toBe('change');
    expect(change?.data.changed).toEqual(['port']);
    expect(change?.data.version).not.toBe(ready?.data.version);
    controller.abort();
  });
});
