// RequestRateLimiter's token bucket, with the arithmetic of Spring's redis-rate-limiter script, held in memory.

// Each key holds up to burstCapacity tokens, refilled at replenishRate per second; a request takes requestedTokens.

export interface TokenBucketOptions {
  readonly replenishRate: number;
  readonly burstCapacity: number;
  readonly requestedTokens: number;
  /** Milliseconds; injected so tests control refills. */
  readonly now: () => number;
  /** Keys remembered at most; the least recently created is forgotten first (it restarts full). Default 100 000. */
  readonly maxKeys?: number;
}

export interface Verdict {
  readonly allowed: boolean;
  readonly remaining: number;
}

/** RequestRateLimiter's arguments, the same for either store. */
export interface BucketLimits {
  readonly replenishRate: number;
  readonly burstCapacity: number;
  readonly requestedTokens: number;
}

/**
 * Buckets kept outside the process (Redis), shared by every gateway that uses the same store. The same arithmetic as
 * {@link TokenBucketLimiter}, done atomically by the store.
 */
export interface SharedBuckets {
  /**
   * Takes `requestedTokens` from the bucket `key` when it holds that many. Undefined when the store cannot answer:
   * the caller lets the request through (Spring's RedisRateLimiter fails open) and the store reports it in health.
   */
  take(key: string, limits: BucketLimits): Promise<Verdict | undefined>;
}

export class TokenBucketLimiter {
  readonly options: TokenBucketOptions;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: TokenBucketOptions) {
    this.options = { ...options };
  }

  take(key: string): Verdict {
    const { replenishRate, burstCapacity, requestedTokens } = this.options;
    const now = this.options.now();
    const bucket = this.#buckets.get(key);
    const elapsedSec = bucket === undefined ? 0 : Math.max(0, now - bucket.at) / 1000;
    const tokens =
      bucket === undefined ? burstCapacity : Math.min(burstCapacity, bucket.tokens + elapsedSec * replenishRate);
    const allowed = tokens >= requestedTokens;
    const left = allowed ? tokens - requestedTokens : tokens;
    if (bucket === undefined) {
      if (this.#buckets.size >= (this.options.maxKeys ?? 100_000)) {
        this.#buckets.delete(this.#buckets.keys().next().value as string);
      }
      this.#buckets.set(key, { tokens: left, at: now });
    } else {
      bucket.tokens = left;
      bucket.at = now;
    }
    return { allowed, remaining: Math.floor(left) };
  }
}
