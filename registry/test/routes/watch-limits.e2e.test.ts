// Event streams are capped: each holds a socket and a file descriptor for as long as its client likes, and `trellis
// up` runs every component in one process, so anonymous streams must not be able to take all of its descriptors.
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { instance } from '../helpers.ts';
import { BASELINE_LISTENERS, serveWatched, type WatchedRegistry } from '../sse-client.ts';

const running: WatchedRegistry[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const r of running.splice(0)) await r.stop();
});

async function serve(options: Parameters<typeof serveWatched>[0] = {}): Promise<WatchedRegistry> {
  const served = await serveWatched(options);
  running.push(served);
  return served;
}

/** The body of a GET sent from `localAddress`. */
function bodyFrom(url: string, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { localAddress }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

describe('the cap on open event streams', () => {
  it('refuses a stream beyond maxWatchers with 503, Retry-After and the reason, shared with the dashboard', async () => {
    const { watch, registry } = await serve({ maxWatchers: 2 });
    const first = await watch();
    const second = await watch('/eureka/v2/watch');
    expect([first.status, second.status]).toEqual([200, 200]);
    for (const path of ['/eureka/watch', '/eureka/web/events']) {
      const refused = await watch(path);
      expect([path, refused.status]).toEqual([path, 503]);
      expect(refused.headers['retry-after']).toBe('30');
      await refused.ended;
    }
    // A closed stream gives its slot back.
    first.close();
    for (let i = 0; i < 100 && registry.changeListenerCount > BASELINE_LISTENERS + 1; i++) await sleep(10);
    const third = await watch();
    expect(third.status).toBe(200);
    await third.next((e) => e.event === 'snapshot');
  });

  it('says why it refused', async () => {
    const { base, watch } = await serve({ maxWatchers: 1 });
    expect((await watch()).status).toBe(200);
    const res = await fetch(`${base}/eureka/watch`);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('Too many open event streams (1); retry in 30 s, or poll GET /apps/delta meanwhile');
  });

  it('cuts a stream whose client stops reading, so it gives back its slot and listener', async () => {
    const { registry, port, watch } = await serve({ maxWatchers: 1, watchWriteTimeoutMs: 300 });
    // A client that sends its request and then never reads a byte.
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`GET /eureka/watch HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n`);
    socket.pause();
    for (let i = 0; i < 100 && registry.changeListenerCount === BASELINE_LISTENERS; i++) await sleep(10);
    expect((await watch()).status).toBe(503);
    // About 20 MB of changes, in several writes: the first fills the socket buffers on both ends (and what node
    // buffers beyond them), so a later one waits for a read that never comes.
    const pad = 'x'.repeat(64 * 1024);
    for (let batch = 0; batch < 4; batch++) {
      for (let i = 0; i < 80; i++) registry.register(instance('BIG', `big-${batch}-${i}`, { metadata: { pad } }));
      await sleep(50);
    }
    for (let i = 0; i < 500 && registry.changeListenerCount > BASELINE_LISTENERS; i++) await sleep(20);
    expect(registry.changeListenerCount).toBe(BASELINE_LISTENERS);
    // And its socket (the file descriptor) is closed, not just forgotten: reading on, the client reaches the end.
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.resume();
    const timedOut = sleep(3000).then(() => 'still open');
    expect(await Promise.race([closed.then(() => 'closed'), timedOut])).toBe('closed');
    const next = await watch();
    expect(next.status).toBe(200);
  });

  it('shares the cap out by source address: one address beyond its share is refused, another still gets in', async () => {
    const { watch, registry, base } = await serve({ maxWatchers: 10, maxWatchersPerAddress: 2 });
    // Real sockets from two loopback addresses (Linux routes all of 127/8 to lo).
    const mine = [await watch('/eureka/watch', '127.0.0.1'), await watch('/eureka/web/events', '127.0.0.1')];
    expect(mine.map((s) => s.status)).toEqual([200, 200]);
    for (const path of ['/eureka/watch', '/eureka/v2/watch', '/eureka/web/events']) {
      const refused = await watch(path, '127.0.0.1');
      expect([path, refused.status]).toEqual([path, 503]);
      expect(refused.headers['retry-after']).toBe('30');
      await refused.ended;
    }
    expect(await bodyFrom(`${base}/eureka/watch`, '127.0.0.1')).toBe(
      'This caller already has 2 open event streams (the most allowed); retry in 30 s, or poll GET /apps/delta meanwhile',
    );
    const other = await watch('/eureka/watch', '127.0.0.2');
    expect(other.status).toBe(200);
    await other.next((e) => e.event === 'snapshot');
    // A stream closed gives the address its share back.
    mine[0]?.close();
    for (let i = 0; i < 100 && registry.changeListenerCount > BASELINE_LISTENERS + 2; i++) await sleep(10);
    expect((await watch('/eureka/watch', '127.0.0.1')).status).toBe(200);
  });

  it('reads the per-address share from REGISTRY_MAX_WATCHERS_PER_ADDRESS, 100 by default', () => {
    expect(loadConfig({ env: {} }).maxWatchersPerAddress).toBe(100);
    expect(loadConfig({ env: { REGISTRY_MAX_WATCHERS_PER_ADDRESS: '5' } }).maxWatchersPerAddress).toBe(5);
    expect(() => loadConfig({ env: { REGISTRY_MAX_WATCHERS_PER_ADDRESS: '0' } })).toThrow(
      /REGISTRY_MAX_WATCHERS_PER_ADDRESS/,
    );
  });

  it('reads the cap from REGISTRY_MAX_WATCHERS, 1,000 by default', () => {
    expect(loadConfig({ env: {} }).maxWatchers).toBe(1000);
    expect(loadConfig({ env: { REGISTRY_MAX_WATCHERS: '50' } }).maxWatchers).toBe(50);
    expect(() => loadConfig({ env: { REGISTRY_MAX_WATCHERS: '0' } })).toThrow(/REGISTRY_MAX_WATCHERS/);
  });
});
