// RequestRateLimiter with its buckets in a real Redis (a redis-server this test starts on a free port and stops):
// two gateways share one bucket per route and key, refuse with 429 and Spring's X-RateLimit-* headers, and let
// requests through when Redis is gone (fail open), saying so in health.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { captureLogger } from '../../../kit/test/support/logger.ts';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  deadPort,
  echo,
  startTestGateway,
  startUpstream,
  until,
  type Answer,
  type TestGateway,
  type Upstream,
} from '../helpers.ts';

const PASSWORD = 's3cret-redis-password';

/** Starts redis-server on `port`, without persistence, and resolves once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', PASSWORD],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  await until(() => output.includes('Ready to accept connections') || child.exitCode !== null, 10_000);
  if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

interface Health {
  status: string;
  components: Record<string, { status: string; details?: Record<string, unknown> }>;
}

const ROUTES = `
spring.cloud.gateway.routes:
- id: limited
  uri: \${UPSTREAM}
  predicates: [Path=/limited/**]
  filters:
  - name: RequestRateLimiter
    args: {replenishRate: 1, burstCapacity: 60, requestedTokens: 20, keyResolver: 'header:X-Client'}
- id: other
  uri: \${UPSTREAM}
  predicates: [Path=/other/**]
  filters:
  - name: RequestRateLimiter
    args: {replenishRate: 1, burstCapacity: 60, requestedTokens: 20, keyResolver: 'header:X-Client'}
`;

describe('RequestRateLimiter with Redis (--rate-limit-redis-url)', () => {
  let port: number;
  let redis: ChildProcess;
  let inspect: Redis;
  let upstream: Upstream;
  let a: TestGateway;
  let b: TestGateway;
  const captured = captureLogger('info');

  const take = (gateway: TestGateway, client: string, path = '/limited/x'): Promise<Answer> =>
    call(`${gateway.url}${path}`, { headers: { 'x-client': client } });
  const remaining = (answer: Answer): unknown => answer.headers['x-ratelimit-remaining'];
  const health = async (gateway: TestGateway): Promise<Health> =>
    (await call(`${gateway.url}/actuator/health`)).json<Health>();

  beforeAll(async () => {
    port = await deadPort();
    redis = await startRedis(port);
    inspect = new Redis({ port, host: '127.0.0.1', password: PASSWORD, lazyConnect: true });
    inspect.on('error', () => {}); // the outage test stops the server under it
    await inspect.connect();
    upstream = await startUpstream(echo);
    const url = `redis://:${PASSWORD}@127.0.0.1:${port}`;
    const { logger } = captured;
    // The Redis connection's state is a health detail.
    const options = {
      argv: ['--rate-limit-redis-url', url, '--health-show-details', 'always'],
      env: { UPSTREAM: upstream.url },
    };
    a = await startTestGateway(ROUTES, { ...options, logger });
    b = await startTestGateway(ROUTES, options);
    await until(async () => (await health(a)).components.rateLimiter?.details?.connection === 'ready');
    await until(async () => (await health(b)).components.rateLimiter?.details?.connection === 'ready');
  });

  afterAll(async () => {
    await a.stop();
    await b.stop();
    inspect.disconnect();
    await stopRedis(redis);
    await upstream.close();
  });

  it('shares one bucket per route and key between two gateways, and answers 429 with the X-RateLimit headers', async () => {
    const first = await take(a, 'shared');
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({
      'x-ratelimit-remaining': '40',
      'x-ratelimit-replenish-rate': '1',
      'x-ratelimit-burst-capacity': '60',
      'x-ratelimit-requested-tokens': '20',
    });
    // The other gateway takes from the same bucket.
    expect(remaining(await take(b, 'shared'))).toBe('20');
    expect(remaining(await take(a, 'shared'))).toBe('0');
    const refused = await take(b, 'shared');
    expect(refused.status).toBe(429);
    expect(refused.json()).toMatchObject({ error: 'too_many_requests', route: 'limited' });
    expect(refused.headers).toMatchObject({
      'x-ratelimit-replenish-rate': '1',
      'x-ratelimit-burst-capacity': '60',
      'x-ratelimit-requested-tokens': '20',
    });
    // A second or so may have refilled a token, never the 20 a request needs.
    expect(Number(refused.headers['x-ratelimit-remaining'])).toBeLessThan(20);
    // Another key, and another route with the same key, have buckets of their own.
    expect(remaining(await take(a, 'someone-else'))).toBe('40');
    expect(remaining(await take(b, 'shared', '/other/x'))).toBe('40');
    // Spring's key layout with a per-route hash tag, expiring after twice the time to fill.
    const ttl = await inspect.ttl('request_rate_limiter.{limited.shared}.tokens');
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
    expect(await inspect.exists('request_rate_limiter.{limited.shared}.timestamp')).toBe(1);
  });

  it('takes tokens atomically under concurrent requests through both gateways', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => take(i % 2 === 0 ? a : b, 'concurrent')));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(3);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(7);
  });

  it('lets requests through when Redis is gone (fail open), says so in health, and limits again once it is back', async () => {
    await stopRedis(redis);
    const started = Date.now();
    const passed = await take(a, 'outage');
    expect(passed.status).toBe(200);
    // Spring's fail-open answer: the headers with -1 remaining.
    expect(remaining(passed)).toBe('-1');
    expect(Date.now() - started).toBeLessThan(1500);
    expect((await take(a, 'outage')).status).toBe(200);
    expect((await take(a, 'outage')).status).toBe(200);
    expect((await take(a, 'outage')).status).toBe(200);
    const h = await health(a);
    expect(h.status).toBe('UP');
    expect(h.components.rateLimiter?.status).toBe('UNKNOWN');
    expect(String(h.components.rateLimiter?.details?.reason)).toMatch(/fail open/);
    expect(h.components.rateLimiter?.details?.passedUnchecked).toBeGreaterThanOrEqual(4);
    // A gateway started during the outage starts, and serves.
    const late = await startTestGateway(ROUTES, {
      argv: ['--rate-limit-redis-url', `redis://:${PASSWORD}@127.0.0.1:${port}`],
      env: { UPSTREAM: upstream.url },
    });
    try {
      expect((await take(late, 'outage')).status).toBe(200);
    } finally {
      await late.stop();
    }
    redis = await startRedis(port);
    await until(async () => (await health(a)).components.rateLimiter?.status === 'UP', 10_000);
    expect(remaining(await take(a, 'outage'))).toBe('40');
    expect(remaining(await take(b, 'outage'))).toBe('20');
    expect(remaining(await take(a, 'outage'))).toBe('0');
    expect((await take(b, 'outage')).status).toBe(429);
  });

  it('never shows the Redis password in health or logs', async () => {
    const h = JSON.stringify(await health(a));
    expect(h).toContain(`redis://127.0.0.1:${port}`);
    expect(h).not.toContain(PASSWORD);
    // The outage above was logged, once, without the URL's user info.
    expect(captured.text()).toContain('fail open');
    expect(captured.text()).not.toContain(PASSWORD);
  });
});
