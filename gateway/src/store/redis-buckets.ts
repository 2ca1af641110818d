// RequestRateLimiter's buckets in Redis, so several gateways share one limit per route and key. One Lua script reads,
// refills, takes and writes a bucket atomically (Spring's RedisRateLimiter semantics: replenishRate tokens per second up
// to burstCapacity, requestedTokens per request, keys expiring after twice the time to fill). The time comes from
// Redis itself, so gateways whose clocks disagree still refill a bucket alike. When Redis cannot answer in time the
// request passes (fail open, as Spring does): a rate limiter must not take the edge down with it.
import type { Health, Logger } from '@trellis/kit';
import { Redis } from 'ioredis';
import type { BucketLimits, SharedBuckets, Verdict } from '../routing/rate-limiter.ts';

/** KEYS: tokens, timestamp. ARGV: replenishRate, burstCapacity, requestedTokens. Returns {allowed 0|1, tokens left}. */
const TAKE = `
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local requested = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local ttl = math.max(1, math.ceil(capacity / rate * 2))
local tokens = tonumber(redis.call('GET', KEYS[1]))
if tokens == nil then tokens = capacity end
local last = tonumber(redis.call('GET', KEYS[2]))
if last == nil then last = 0 end
local filled = math.min(capacity, tokens + math.max(0, now - last) * rate)
local allowed = 0
if filled >= requested then
  filled = filled - requested
  allowed = 1
end
redis.call('SET', KEYS[1], tostring(filled), 'EX', ttl)
redis.call('SET', KEYS[2], tostring(now), 'EX', ttl)
return { allowed, math.floor(filled) }
`;

export interface RedisBucketsOptions {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://…`. Never logged. */
  readonly url: string;
  readonly logger: Logger;
  /** How long a request waits for Redis before passing unchecked. Default 500 ms. */
  readonly commandTimeoutMs?: number;
  readonly now?: () => number;
}

type TakeCommand = (tokensKey: string, timestampKey: string, ...args: number[]) => Promise<[number, number]>;

/** Where Redis is, for health and logs: the URL without its user info. */
function describe(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

export class RedisBuckets implements SharedBuckets {
  readonly #redis: Redis;
  readonly #take: TakeCommand;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #where: string;
  /** Since when Redis has not answered; undefined while it does. */
  #failingSince: number | undefined;
  #lastError: string | undefined;
  /** Requests let through unchecked during the current outage. */
  #passed = 0;
  #closed = false;

  constructor(options: RedisBucketsOptions) {
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    this.#where = describe(options.url);
    this.#redis = new Redis(options.url, {
      // Fail open at once while disconnected instead of queueing requests behind a reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(100 * times, 2000),
      lazyConnect: false,
    });
    this.#redis.defineCommand('trellisTakeTokens', { numberOfKeys: 2, lua: TAKE });
    const command = (this.#redis as unknown as { trellisTakeTokens: TakeCommand }).trellisTakeTokens;
    this.#take = (...args) => command.apply(this.#redis, args);
    // Without a listener ioredis prints every connection error; the outage is reported once, below.
    this.#redis.on('error', (err: Error) => this.#failed(err));
    this.#redis.on('ready', () => this.#recovered());
  }

  async take(key: string, limits: BucketLimits): Promise<Verdict | undefined> {
    // A hash tag ({…}) keeps both keys of a bucket in one Redis Cluster slot, as the script needs.
    const prefix = `request_rate_limiter.{${key}}`;
    try {
      const [allowed, remaining] = await this.#take(
        `${prefix}.tokens`,
        `${prefix}.timestamp`,
        limits.replenishRate,
        limits.burstCapacity,
        limits.requestedTokens,
      );
      this.#recovered();
      return { allowed: allowed === 1, remaining };
    } catch (err) {
      this.#failed(err);
      this.#passed++;
      return undefined;
    }
  }

  /** The `rateLimiter` health component: UNKNOWN (never DOWN: requests are still served) while Redis fails. */
  health(): Health {
    const details = { store: 'redis', redis: this.#where, connection: this.#redis.status };
    if (this.#failingSince === undefined) return { status: 'UP', details };
    return {
      status: 'UNKNOWN',
      details: {
        ...details,
        reason: 'Redis is unreachable: RequestRateLimiter lets requests through unchecked (fail open)',
        error: this.#lastError,
        since: new Date(this.#failingSince).toISOString(),
        passedUnchecked: this.#passed,
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }

  #failed(err: unknown): void {
    if (this.#closed) return;
    this.#lastError = err instanceof Error ? err.message : String(err);
    if (this.#failingSince !== undefined) return;
    this.#failingSince = this.#now();
    this.#passed = 0;
    this.#log.warn(
      { redis: this.#where, reason: this.#lastError },
      'rate-limit Redis unreachable; requests pass unchecked until it answers (fail open)',
    );
  }

  #recovered(): void {
    if (this.#failingSince === undefined) return;
    this.#log.info({ redis: this.#where, passedUnchecked: this.#passed }, 'rate-limit Redis answers again');
    this.#failingSince = undefined;
    this.#lastError = undefined;
  }
}
