// Faults at the gateway's edges, on real sockets with the gateway in a process of its own (`trellis gateway`): an
// upstream process killed mid-response, slowloris clients, 10,000 idle keep-alive connections, the connection cap.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startUpstream, until, type Upstream } from './helpers.ts';
import { spawnGateway, type GatewayProcess } from './process.ts';

const BODY_BYTES = 1_000_000;
const SENT_BYTES = 64 * 1024;

/**
 * An upstream in a process of its own: it answers 200 with the head and SENT_BYTES of a BODY_BYTES body (announced
 * with Content-Length, or chunked for /chunked), says `sent` on stdout, and waits to be killed.
 */
const DYING_UPSTREAM = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  const chunked = req.url.includes('chunked');
  res.writeHead(200, chunked ? { 'content-type': 'application/octet-stream' }
    : { 'content-type': 'application/octet-stream', 'content-length': ${BODY_BYTES} });
  res.write(Buffer.alloc(${SENT_BYTES}, 120), () => process.stdout.write('sent\\n'));
});
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
`;

interface Child {
  readonly child: ChildProcess;
  readonly port: number;
  /** Resolves when the child printed `line`. */
  said(line: string): Promise<void>;
}

async function dyingUpstream(): Promise<Child> {
  const child = spawn(process.execPath, ['-e', DYING_UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const waiters: { line: string; resolve: () => void }[] = [];
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) if (out.includes(`${w.line}\n`)) w.resolve();
  });
  const said = (line: string): Promise<void> =>
    out.includes(`${line}\n`) ? Promise.resolve() : new Promise((resolve) => waiters.push({ line, resolve }));
  const deadline = Date.now() + 10_000;
  while (!/port (\d+)\n/.test(out)) {
    if (Date.now() > deadline) throw new Error('the upstream process did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, port: Number(/port (\d+)\n/.exec(out)?.[1]), said };
}

interface Received {
  readonly status: number;
  readonly bytes: number;
  /** How the body ended: `end` (complete by its framing), `aborted` (cut), or `timeout` (a hang). */
  readonly ending: 'end' | 'aborted' | 'timeout';
  readonly ms: number;
}

/** One GET on a connection of its own, read to its end, its cut, or `waitMs`. */
function get(url: string, waitMs = 10_000, onHead?: () => void): Promise<Received> {
  const started = performance.now();
  return new Promise((resolve) => {
    let status = 0;
    let bytes = 0;
    let done = false;
    const finish = (ending: Received['ending']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ status, bytes, ending, ms: performance.now() - started });
    };
    const req = http.get(url, { agent: false }, (res) => {
      status = res.statusCode ?? 0;
      onHead?.();
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => finish(res.complete ? 'end' : 'aborted'));
      res.on('aborted', () => finish('aborted'));
      res.on('error', () => finish('aborted'));
      res.on('close', () => finish(res.complete ? 'end' : 'aborted'));
    });
    req.on('error', () => finish('aborted'));
    const timer = setTimeout(() => {
      finish('timeout');
      req.destroy();
    }, waitMs);
  });
}

/** Latencies of `count` sequential GETs on fresh connections, each expected to answer 200. */
async function probe(url: string, count: number, gapMs: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = await get(url, 5000);
    expect(r.status, `probe ${i}`).toBe(200);
    expect(r.ending).toBe('end');
    ms.push(r.ms);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  return ms;
}

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

const routes = (entries: Record<string, string>): string =>
  [
    'spring.cloud.gateway.routes:',
    ...Object.entries(entries).flatMap(([name, url]) => [
      `- id: ${name}`,
      `  uri: ${url}`,
      `  predicates: [Path=/${name}/**]`,
      '  filters: [StripPrefix=1]',
    ]),
    '',
  ].join('\n');

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) await undo();
});

describe('an upstream that dies mid-response', () => {
  it('cuts the client response (never passed off as complete, never left hanging), logs it, and serves on', async () => {
    const ok: Upstream = await startUpstream((_req, res) => res.end('fine'));
    cleanup.push(() => ok.close());
    const dying = [await dyingUpstream(), await dyingUpstream()];
    cleanup.push(() => Promise.resolve(dying.forEach((d) => d.child.kill('SIGKILL'))));
    const gateway = await spawnGateway(
      routes({
        ok: ok.url,
        die: `http://127.0.0.1:${dying[0]?.port}`,
        chunked: `http://127.0.0.1:${dying[1]?.port}`,
      }),
    );
    cleanup.push(() => gateway.stop());

    for (const [i, path] of ['/die/x', '/chunked/chunked'].entries()) {
      const upstream = dying[i];
      if (upstream === undefined) throw new Error('no upstream');
      // A request on the healthy route under way at the same time, on its own connection.
      const beside = get(`${gateway.url}/ok/`);
      const cut = get(`${gateway.url}${path}`, 10_000);
      await upstream.said('sent');
      const killed = once(upstream.child, 'exit');
      upstream.child.kill('SIGKILL');
      await killed;
      const received = await cut;
      expect(received.status, path).toBe(200);
      // The part sent before the kill arrived, the rest never did, and the client learnt the body is cut.
      expect(received.bytes, path).toBeGreaterThanOrEqual(SENT_BYTES);
      expect(received.bytes, path).toBeLessThan(BODY_BYTES);
      expect(received.ending, path).toBe('aborted');
      expect(received.ms, path).toBeLessThan(5000);
      expect((await beside).status).toBe(200);
    }
    // The log is written asynchronously: its lines may come a little after the cut.
    const cutRoutes = () =>
      gateway
        .lines()
        .filter((l) => String(l.msg).startsWith('the upstream dropped the connection mid-response'))
        .map((l) => l.route)
        .sort();
    await until(() => cutRoutes().length >= 2, 5000).catch(() => undefined);
    expect(cutRoutes()).toEqual(['chunked', 'die']);
    // Other requests and the other route are served as before; the dead route answers 502 at once.
    expect(await probe(`${gateway.url}/ok/`, 20, 0)).toHaveLength(20);
    const dead = await get(`${gateway.url}/die/x`, 5000);
    expect(dead.status).toBe(502);
    expect(dead.ending).toBe('end');
  }, 60_000);
});

/** Opens a connection from `localAddress` and resolves once it is connected. */
async function connect(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** When the socket closes, however (events.once would reject on the reset a write after the server's close gets). */
const closing = (socket: net.Socket): Promise<void> => new Promise((resolve) => socket.once('close', () => resolve()));

describe('slowloris', () => {
  it('times out 200 clients that send their headers a byte a second, and serves the others quickly meanwhile', async () => {
    const ok = await startUpstream((_req, res) => res.end('fine'));
    cleanup.push(() => ok.close());
    const HEADERS_TIMEOUT = 4000;
    const gateway = await spawnGateway(routes({ ok: ok.url }), ['--headers-timeout-ms', String(HEADERS_TIMEOUT)]);
    cleanup.push(() => gateway.stop());
    const head = `GET /ok/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`;
    const slow = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const started = performance.now();
        const socket = await connect(gateway.port, `127.0.0.${2 + (i % 20)}`);
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
        const closed = closing(socket).then(() => performance.now() - started);
        return { socket, closed, answer: () => answer };
      }),
    );
    let sent = 0;
    const drip = setInterval(() => {
      // A byte racing the gateway's close gets a reset: the 408 before it has been read by then.
      for (const s of slow) if (s.socket.writable && !s.socket.readableEnded) s.socket.write(head[sent] ?? 'x');
      sent++;
    }, 1000);
    try {
      // Normal clients, a request every 100 ms on a fresh connection, until every slow one is gone.
      let allClosed = false;
      const closedAt = Promise.all(slow.map((s) => s.closed)).then((ms) => {
        allClosed = true;
        return ms;
      });
      const latencies: number[] = [];
      while (!allClosed && latencies.length < 150) latencies.push(...(await probe(`${gateway.url}/ok/`, 1, 100)));
      const closed = await closedAt;
      // Each slow client lost its connection at the headers timeout (checked every tenth of it), none before.
      expect(Math.min(...closed)).toBeGreaterThanOrEqual(HEADERS_TIMEOUT - 100);
      expect(Math.max(...closed)).toBeLessThan(HEADERS_TIMEOUT + 3000);
      expect(sent).toBeLessThan(head.length);
      for (const s of slow) expect(s.answer()).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(slow[0]?.answer().split('\r\n\r\n')[1] ?? '{}')).toEqual({
        error: 'request_timeout',
        message: 'the request line and headers did not arrive in time',
      });
      // Meanwhile every normal request was answered, most within tens of milliseconds.
      expect(latencies.length).toBeGreaterThanOrEqual(20);
      expect(percentile(latencies, 50)).toBeLessThan(100);
      expect(percentile(latencies, 95)).toBeLessThan(500);
    } finally {
      clearInterval(drip);
      for (const s of slow) s.socket.destroy();
    }
  }, 60_000);
});

/**
 * Instrumentation for the memory test: on SIGUSR2 the gateway process runs a full GC and prints its heap as a JSON
 * line, so what it retains can be told from what it has not collected yet.
 */
const GC_ON_SIGNAL = `data:text/javascript,${encodeURIComponent(
  "process.on('SIGUSR2', () => { globalThis.gc(); process.stdout.write(JSON.stringify({ msg: 'heap after gc', heapUsed: process.memoryUsage().heapUsed }) + '\\n'); });",
)}`;

/** The gateway's JS heap in KiB after a full GC (see GC_ON_SIGNAL). */
async function heapAfterGc(gateway: GatewayProcess): Promise<number> {
  const count = () => gateway.lines().filter((l) => l.msg === 'heap after gc').length;
  const before = count();
  gateway.child.kill('SIGUSR2');
  await until(() => count() > before, 5000);
  return Number(gateway.lines().filter((l) => l.msg === 'heap after gc')[before]?.heapUsed) / 1024;
}

/** Opens `count` connections in batches of 500 over 50 source addresses, each answered once on /ok/ and left idle. */
async function openIdle(
  port: number,
  count: number,
  subnet: number,
): Promise<{ socket: net.Socket; answeredAt: number; closedAt: Promise<number> }[]> {
  const request = 'GET /ok/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  const sockets: { socket: net.Socket; answeredAt: number; closedAt: Promise<number> }[] = [];
  for (let batch = 0; batch < count / 500; batch++) {
    sockets.push(
      ...(await Promise.all(
        Array.from({ length: 500 }, async (_, i) => {
          // 50 source addresses: 10,000 ports of one would crowd the ephemeral range (and its TIME_WAITs).
          const socket = await connect(port, `127.0.${subnet}.${1 + ((batch * 500 + i) % 50)}`);
          const closedAt = closing(socket).then(() => performance.now());
          let answer = '';
          socket.write(request);
          await new Promise<void>((resolve) => {
            const onData = (d: Buffer): void => {
              answer += d.toString('latin1');
              if (answer.endsWith('\r\n\r\nfine')) {
                socket.off('data', onData);
                resolve();
              }
            };
            socket.on('data', onData);
          });
          return { socket, answeredAt: performance.now(), closedAt };
        }),
      )),
    );
  }
  return sockets;
}

describe('10,000 idle keep-alive connections', () => {
  it('keeps answering others, costs a bounded few KiB each, closes them at the idle timeout and retains nothing of them', async () => {
    const ok = await startUpstream((_req, res) => res.end('fine'));
    cleanup.push(() => ok.close());
    const IDLE_TIMEOUT = 15_000;
    const COUNT = 10_000;
    const gateway = await spawnGateway(routes({ ok: ok.url }), ['--idle-timeout-ms', String(IDLE_TIMEOUT)], {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import=${GC_ON_SIGNAL}`,
    });
    cleanup.push(() => gateway.stop());
    // Warm: the code paths compiled, the upstream pool open, so what grows later is the connections' cost.
    await probe(`${gateway.url}/ok/`, 200, 0);
    const baseHeap = await heapAfterGc(gateway);
    const baseline = await gateway.rssKiB();
    const baseFds = await gateway.openFds();

    const opened = performance.now();
    const sockets = await openIdle(gateway.port, COUNT, 1);
    // Opening took less than the idle timeout: every connection is open at once now.
    expect(performance.now() - opened).toBeLessThan(IDLE_TIMEOUT * 0.75);
    expect((await gateway.openFds()) - baseFds).toBeGreaterThanOrEqual(COUNT);
    const plateau = await gateway.rssKiB();
    // What each idle connection costs, uncollected garbage of its request included: measured ~18 KiB.
    const perConnection = (plateau - baseline) / COUNT;
    expect(perConnection).toBeLessThan(32);
    // What the JS heap keeps of each (socket, parser, timers): measured ~3 KiB.
    const heldPerConnection = ((await heapAfterGc(gateway)) - baseHeap) / COUNT;
    expect(heldPerConnection).toBeLessThan(8);
    // Meanwhile others are served, quickly.
    const latencies = await probe(`${gateway.url}/ok/`, 50, 20);
    expect(percentile(latencies, 50)).toBeLessThan(100);
    expect(percentile(latencies, 95)).toBeLessThan(500);

    // The gateway closes each at its idle timeout after its answer, not before.
    const idleFor = await Promise.all(sockets.map(async (s) => (await s.closedAt) - s.answeredAt));
    expect(Math.min(...idleFor)).toBeGreaterThanOrEqual(IDLE_TIMEOUT - 500);
    expect(Math.max(...idleFor)).toBeLessThan(IDLE_TIMEOUT + 5000);
    await until(async () => (await gateway.openFds()) < baseFds + 50, 5000);
    // Nothing of them is retained: the heap after a full GC is back at its baseline (within 0.5 KiB a connection).
    expect((await heapAfterGc(gateway)) - baseHeap).toBeLessThan(COUNT / 2);
    // RSS itself stays at its plateau (V8 pools the freed heap pages, malloc keeps freed memory for reuse), so a
    // second wave of 10,000 is carried in the same memory rather than beside it.
    const second = await openIdle(gateway.port, COUNT, 2);
    const again = await gateway.rssKiB();
    // Measured: the second wave adds a fifth of what the first did.
    expect(again - plateau).toBeLessThan((plateau - baseline) / 2);
    for (const s of second) s.socket.destroy();
  }, 90_000);
});

describe('--max-connections', () => {
  it('closes a connection past the cap on arrival and takes new ones once others end', async () => {
    const ok = await startUpstream((_req, res) => res.end('fine'));
    cleanup.push(() => ok.close());
    const gateway = await spawnGateway(routes({ ok: ok.url }), ['--max-connections', '100']);
    cleanup.push(() => gateway.stop());
    const held = await Promise.all(
      Array.from({ length: 100 }, (_, i) => connect(gateway.port, `127.0.3.${1 + (i % 50)}`)),
    );
    await until(async () => (await gateway.openFds()) >= 100, 5000);
    // The 101st: TCP accepts it, the gateway closes it without a byte.
    const refused = await get(`${gateway.url}/ok/`, 5000);
    expect(refused).toMatchObject({ status: 0, ending: 'aborted' });
    // And the operator learns it, counted rather than line by line.
    await until(() => gateway.lines().some((l) => String(l.msg).startsWith('connections closed on arrival')), 5000);
    expect(gateway.lines().find((l) => String(l.msg).startsWith('connections closed on arrival'))).toMatchObject({
      dropped: 1,
      maxConnections: 100,
    });
    for (const s of held.splice(0, 10)) s.destroy();
    await until(async () => (await get(`${gateway.url}/ok/`, 5000)).status === 200, 5000);
    for (const s of held) s.destroy();
  }, 60_000);
});
