import { get } from 'node:http';
import type { Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseReader, startConfigServer, tempRepo } from './helpers.ts';

const repo = tempRepo({
  'application.yml': 'shared: a\n',
  'product.yml': 'port: 7001\nname: product\n',
  'review.yml': 'port: 7003\n',
});
const data = tempRepo({});
let running: Running;
let base: string;

beforeAll(async () => {
  ({ running, url: base } = await startConfigServer({ repo: repo.root, dataDir: data.root }));
});
afterAll(async () => {
  await running.stop();
  repo.remove();
  data.remove();
});

describe('GET /watch/{name}/{profiles}', () => {
  it('tells a watcher within 200 ms which keys changed on disk, and only for its application', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/watch/product/default`, { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    if (res.body === null) throw new Error('no body');
    const events = sseReader(res.body);
    const ready = await events.next();
    expect(ready.event).toBe('ready');

    // Another application's file changes nothing for this stream.
    repo.write('review.yml', 'port: 7004\n');
    await new Promise((r) => setTimeout(r, 150));
    expect(events.pending()).toBe(0);

    const written = performance.now();
    repo.write('product.yml', 'port: 7010\nname: product\nadded: x\n');
    const change = await events.next();
    expect(change.event).toBe('change');
    expect(change.data.changed).toEqual(['added', 'port']);
    expect(change.data.version).not.toBe(ready.data.version);
    expect(change.at - written).toBeLessThan(200);

    repo.write('application.yml', 'shared: b\n');
    expect((await events.next()).data.changed).toEqual(['shared']);
    controller.abort();
  });

  it('answers 404 for an unknown label before streaming', async () => {
    // A one-off connection: a pooled keep-alive socket would hold the server's drain until the client lets go.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      get(`${base}/watch/product/default/nope`, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    expect(status).toBe(404);
  });
});
