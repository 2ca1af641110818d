// Lockouts behind a proxy: with the gateway's address in CONFIG_TRUSTED_PROXIES each client it forwards for is its
// own source, so one client's wrong guesses lock only that client out; any other peer's X-Forwarded-For is ignored.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '@trellis/kit';
import { startConfigServer, tempRepo } from '../helpers.ts';

const repo = tempRepo({ 'app1.yml': 'port: 7001\n' });
const data = tempRepo({});
let running: Running;
let port: number;

beforeAll(async () => {
  const started = await startConfigServer({
    repo: repo.root,
    dataDir: data.root,
    env: { CONFIG_CLIENTS: 'app1:app1-secret-1:app1', CONFIG_TRUSTED_PROXIES: '127.0.0.1' },
  });
  running = started.running;
  port = Number(new URL(started.url).port);
}, 30_000);
afterAll(async () => {
  await running.stop();
  repo.remove();
  data.remove();
});

/** GET /app1/default from `from` (a loopback address), Basic `user:password`, with X-Forwarded-For when given. */
function send(from: string, forwardedFor: string | undefined, user: string, password: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/app1/default',
        localAddress: from,
        headers: {
          authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
          ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('trusted proxies and the failed-credential limiter', () => {
  it("locks out only the client a trusted proxy forwarded the wrong guesses for, not the proxy's other clients", async () => {
    // Sprayed over fresh names, as `curl -u x$i:wrong` through the gateway does: the per-source count (20) locks.
    for (let i = 0; i < 20; i++) expect(await send('127.0.0.1', '198.51.100.7', `x${i}`, 'wrong')).toBe(401);
    expect(await send('127.0.0.1', '198.51.100.7', 'x20', 'wrong')).toBe(429);
    expect(await send('127.0.0.1', '198.51.100.7', 'app1', 'app1-secret-1')).toBe(429);
    // Another client behind the same proxy: unaffected.
    expect(await send('127.0.0.1', '198.51.100.8', 'app1', 'app1-secret-1')).toBe(200);
    expect(await send('127.0.0.1', '10.0.0.5, 198.51.100.9', 'app1', 'app1-secret-1')).toBe(200);
  });

  it('ignores X-Forwarded-For from a peer that is not trusted: its guesses count against its own address', async () => {
    for (let i = 0; i < 20; i++) expect(await send('127.0.0.2', `203.0.113.${i}`, `y${i}`, 'wrong')).toBe(401);
    expect(await send('127.0.0.2', '203.0.113.200', 'app1', 'app1-secret-1')).toBe(429);
    // The trusted proxy's clients are other sources still.
    expect(await send('127.0.0.1', '203.0.113.201', 'app1', 'app1-secret-1')).toBe(200);
  });
});
