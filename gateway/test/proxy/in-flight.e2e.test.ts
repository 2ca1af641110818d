// One client's long-lived requests (event streams, slow answers) must not take an upstream's whole connection pool
// from everyone else: the gateway caps the requests in flight per source address. Real sockets throughout; the
// gateway trusts X-Forwarded-For from loopback, so the test can speak as two sources.
import http from 'node:http';
import { loadSettings, SettingsError } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayConfig, gatewaySettings } from '../../src/config.ts';
import { startTestGateway, startUpstream, until, type TestGateway, type Upstream } from '../helpers.ts';

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** A GET on a connection of its own (no client-side pool limit), as the given source behind the trusted proxy. */
function get(port: number, path: string, source: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { 'x-forwarded-for': source } });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Waits until `expectedHeld` requests are held upstream and every other one has been answered (refused), so releasing
 * the held ones cannot let a request still on its way through take a freed slot and be held for good.
 */
async function untilSettled(
  requests: readonly Promise<Reply>[],
  held: readonly unknown[],
  expectedHeld: number,
): Promise<void> {
  let answered = 0;
  for (const r of requests) void r.then(() => answered++);
  await until(() => held.length >= expectedHeld && answered >= requests.length - expectedHeld, 15_000);
}

describe('requests in flight per source address', () => {
  let upstream: Upstream;
  let gateway: TestGateway;
  /** Responses of /slow held until the test releases them. */
  const held: http.ServerResponse[] = [];

  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/slow') held.push(res);
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('fast');
    });
    gateway = await startTestGateway(
      `
spring.cloud.gateway.routes:
- id: upstream
  uri: ${upstream.url}
  predicates: [Path=/**]
`,
      { argv: ['--trusted-proxies', '127.0.0.1'] },
    );
  });
  afterAll(async () => {
    for (const res of held) res.destroy();
    await gateway.stop();
    await upstream.close();
  });

  it('answers 429 with Retry-After past 64 from one source, while another source still reaches the upstream', async () => {
    // More than the 128 connections the gateway keeps to one upstream: uncapped, these would take all of them.
    const hog = Array.from({ length: 130 }, () => get(gateway.port, '/slow', '198.51.100.1'));
    await untilSettled(hog, held, 64);
    const other = await Promise.race([
      get(gateway.port, '/fast', '203.0.113.9'),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000)),
    ]);
    expect(other?.status).toBe(200);
    expect(other?.body).toBe('fast');
    expect(held).toHaveLength(64);
    for (const res of held.splice(0)) res.writeHead(200).end('slow');
    const replies = await Promise.all(hog);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(64);
    const refused = replies.filter((r) => r.status === 429);
    expect(refused).toHaveLength(66);
    expect(refused[0]?.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused[0]?.body ?? '{}')).toMatchObject({
      error: 'too_many_requests',
      message: expect.stringMatching(/64 requests in flight from one address/) as unknown,
    });
    // The slots come back as the requests finish.
    expect((await get(gateway.port, '/fast', '198.51.100.1')).status).toBe(200);
  }, 30_000);

  it('counts an IPv6 client by its /64, so rotating addresses inside it gives no fresh slots', async () => {
    const hog = Array.from({ length: 70 }, (_, i) =>
      get(gateway.port, '/slow', `2001:db8:1:2::${(i + 1).toString(16)}`),
    );
    await untilSettled(hog, held, 64);
    for (const res of held.splice(0)) res.writeHead(200).end('slow');
    const replies = await Promise.all(hog);
    expect(replies.filter((r) => r.status === 429)).toHaveLength(6);
  }, 30_000);
});

describe('the in-flight setting', () => {
  const config = (argv: string[]) => gatewayConfig(loadSettings(gatewaySettings(), { argv, env: {} }));

  it('defaults to 64, takes 0 for no cap, and refuses a negative count with the setting named', () => {
    expect(config([]).maxInFlightPerClient).toBe(64);
    expect(config(['--max-in-flight-per-client', '0']).maxInFlightPerClient).toBeUndefined();
    expect(() => config(['--max-in-flight-per-client', '-1'])).toThrow(SettingsError);
    expect(() => config(['--max-in-flight-per-client', '-1'])).toThrow(/--max-in-flight-per-client/);
  });
});
