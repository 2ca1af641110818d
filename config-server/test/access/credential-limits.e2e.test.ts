// Credential guessing against a running config server: lockouts per source address (and name), the right credential
// refused while locked, other addresses unaffected. Every loopback address is one source (any local process can send
// from all of them), so two clients are told apart the way the gateway tells them: 127.0.0.1 is a trusted proxy and
// names them in X-Forwarded-For; 127.0.0.2 and 127.0.0.3 are untrusted peers.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '@trellis/kit';
import { startConfigServer, tempRepo } from '../helpers.ts';

const repo = tempRepo({ 'product.yml': 'port: 7001\n' });
const data = tempRepo({});
let running: Running;
let port: number;

beforeAll(async () => {
  const started = await startConfigServer({
    repo: repo.root,
    dataDir: data.root,
    env: {
      CONFIG_BACKENDS: 'sqlite,native',
      CONFIG_ADMINS: 'ops:ops-secret-1:*',
      CONFIG_CLIENTS: 'product:product-secret-1:product',
      CONFIG_TRUSTED_PROXIES: '127.0.0.1',
    },
  });
  running = started.running;
  port = Number(new URL(started.url).port);
}, 30_000);
afterAll(async () => {
  await running.stop();
  repo.remove();
  data.remove();
});

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/**
 * One request, Basic `user:password`, from `from`: a client address the trusted proxy 127.0.0.1 forwards for, or a
 * loopback address (127.0.0.2, 127.0.0.3) it is sent from directly.
 */
function send(from: string, path: string, user: string, password: string): Promise<Answer> {
  const direct = from.startsWith('127.');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        localAddress: direct ? from : '127.0.0.1',
        headers: {
          authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
          ...(direct ? {} : { 'x-forwarded-for': from }),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('failed-credential lockouts', () => {
  it('answers 429 with Retry-After after 10 wrong admin passwords from one address, the right one too', async () => {
    expect((await send('192.0.2.1', '/admin/history', 'ops', 'ops-secret-1')).status).toBe(200);
    for (let i = 0; i < 10; i++) {
      expect((await send('192.0.2.1', '/admin/history', 'ops', `guess-${i}`)).status).toBe(401);
    }
    for (const password of ['guess-10', 'ops-secret-1']) {
      const locked = await send('192.0.2.1', '/admin/history', 'ops', password);
      expect(locked.status).toBe(429);
      expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(locked.retryAfter)).toBeLessThanOrEqual(30);
      const body = JSON.parse(locked.body) as { status: number; message: string };
      expect(body.status).toBe(429);
      expect(body.message).toContain('try again in');
    }
    // Another address: unaffected, its own wrong guesses counted apart.
    expect((await send('192.0.2.2', '/admin/history', 'ops', 'ops-secret-1')).status).toBe(200);
    expect((await send('192.0.2.2', '/admin/history', 'ops', 'guess')).status).toBe(401);
    expect((await send('192.0.2.2', '/admin/history', 'ops', 'ops-secret-1')).status).toBe(200);
  });

  it("counts a reader client's wrong secrets too, and the locked address is refused on the fast fetch path", async () => {
    // Served once, so the lean path knows the path and would answer it without the app.
    expect((await send('192.0.2.2', '/product/default', 'product', 'product-secret-1')).status).toBe(200);
    expect((await send('192.0.2.1', '/product/default', 'product', 'product-secret-1')).status).toBe(200);
    for (let i = 0; i < 10; i++) {
      expect((await send('192.0.2.1', '/product/default', 'product', `guess-${i}`)).status).toBe(401);
    }
    expect((await send('192.0.2.1', '/product/default', 'product', 'product-secret-1')).status).toBe(429);
    expect((await send('192.0.2.2', '/product/default', 'product', 'product-secret-1')).status).toBe(200);
  });

  it('counts every loopback address as one source: guesses from 127.0.0.2 lock 127.0.0.3 out', async () => {
    for (let i = 0; i < 20; i++) {
      expect((await send('127.0.0.2', '/product/default', `spray-${i}`, 'guess')).status).toBe(401);
    }
    expect((await send('127.0.0.3', '/product/default', 'product', 'product-secret-1')).status).toBe(429);
    expect((await send('192.0.2.3', '/product/default', 'product', 'product-secret-1')).status).toBe(200);
  });
});
