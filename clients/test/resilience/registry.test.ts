import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { circuitBreakerSettings, resilienceConfigFromProperties, retrySettings } from '../../src/resilience/config.ts';
import { isCallNotPermitted, ResilienceError } from '../../src/resilience/errors.ts';
import { createResilience } from '../../src/resilience/registry.ts';

class Boom extends Error {
  override readonly name = 'Boom';
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

async function settle<T>(p: Promise<T>): Promise<unknown> {
  const caught = p.catch((e: unknown) => e);
  await vi.runAllTimersAsync();
  return caught;
}

describe('ResilienceRegistry.execute', () => {
  it('wraps as Retry(CircuitBreaker(...)): every attempt is judged, and attempts after the breaker opens are refused', async () => {
    const resilience = createResilience({
      config: {
        circuitbreaker: { instances: { product: { slidingWindowSize: 2, minimumNumberOfCalls: 2 } } },
        retry: { instances: { product: { maxAttempts: 4, waitDuration: '10ms' } } },
      },
    });
    const call = vi.fn(() => Promise.reject(new Boom('down')));
    const err = await settle(resilience.execute('product', call));
    expect(isCallNotPermitted(err)).toBe(true);
    expect(call).toHaveBeenCalledTimes(2);
    const breaker = resilience.circuitBreaker('product');
    expect(breaker.state).toBe('OPEN');
    expect(breaker.metrics()).toMatchObject({ failedCalls: 2, notPermittedCalls: 2 });
    expect(resilience.retry('product').metrics().numberOfFailedCallsWithRetryAttempt).toBe(1);
  });

  it('counts a timeout as a breaker failure (the time limiter sits inside the breaker)', async () => {
    const resilience = createResilience({
      config: {
        circuitbreaker: { instances: { product: { slidingWindowSize: 1, minimumNumberOfCalls: 1 } } },
        timelimiter: { instances: { product: { timeoutDuration: '100ms' } } },
        retry: { instances: { product: { maxAttempts: 1 } } },
      },
    });
    let aborted = false;
    const err = await settle(
      resilience.execute('product', ({ signal }) => {
        signal.addEventListener('abort', () => (aborted = true));
        return new Promise(() => undefined);
      }),
    );
    expect(err).toMatchObject({ code: 'timeout' });
    expect(aborted).toBe(true);
    expect(resilience.circuitBreaker('product').state).toBe('OPEN');
  });

  it('answers from the fallback when the breaker is open, without calling the dependency', async () => {
    const resilience = createResilience({
      config: { retry: { instances: { review: { maxAttempts: 1 } } } },
    });
    resilience.circuitBreaker('review').transitionToOpenState();
    const call = vi.fn(() => ['fresh']);
    const seen: unknown[] = [];
    const reviews = await resilience.execute('review', call, {
      fallback: (err) => {
        seen.push(err);
        if (isCallNotPermitted(err)) return ['cached'];
        throw err;
      },
    });
    expect(reviews).toEqual(['cached']);
    expect(call).not.toHaveBeenCalled();
    expect(seen[0]).toBeInstanceOf(ResilienceError);
  });

  it('lets the fallback rethrow', async () => {
    const resilience = createResilience({ config: { retry: { instances: { review: { maxAttempts: 1 } } } } });
    const err = await resilience
      .execute('review', () => Promise.reject(new Boom('x')), { fallback: (e) => Promise.reject(e as Error) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Boom);
  });

  it('applies a bulkhead only when one is configured, and leaves out layers set to false', async () => {
    const resilience = createResilience({ config: { bulkhead: { instances: { a: { maxConcurrentCalls: 1 } } } } });
    let release!: () => void;
    const blocker = new Promise<void>((r) => (release = r));
    const first = resilience.execute('a', () => blocker, { retry: false, timeLimiter: false });
    expect(await settle(resilience.execute('a', () => 'x', { retry: false }))).toMatchObject({ code: 'bulkhead_full' });
    // `b` has no bulkhead configuration: two at once are fine.
    const both = Promise.all([resilience.execute('b', () => 1), resilience.execute('b', () => 2)]);
    expect(await both).toEqual([1, 2]);
    release();
    await first;
  });

  it('decorates a function once for many calls', async () => {
    const resilience = createResilience();
    const get = resilience.decorate('product', ({ attempt }, id: number) => ({ id, attempt }));
    expect(await get(7)).toEqual({ id: 7, attempt: 1 });
    expect(resilience.circuitBreaker('product').metrics().bufferedCalls).toBe(1);
  });

  it('keeps an instance across calls and rebuilds only the ones whose configuration changed', () => {
    const resilience = createResilience({ config: { circuitbreaker: { instances: { a: { slidingWindowSize: 5 } } } } });
    const a = resilience.circuitBreaker('a');
    const b = resilience.circuitBreaker('b');
    expect(resilience.circuitBreaker('a')).toBe(a);
    resilience.reconfigure({ circuitbreaker: { instances: { a: { slidingWindowSize: 6 } } } });
    expect(resilience.circuitBreaker('a')).not.toBe(a);
    expect(resilience.circuitBreaker('a').settings.slidingWindowSize).toBe(6);
    expect(resilience.circuitBreaker('b')).toBe(b);
  });
});

describe('configuration', () => {
  it('reads Resilience4j property names with instance over base config over defaults', () => {
    const config = {
      circuitbreaker: {
        configs: { default: { slidingWindowSize: 20, failureRateThreshold: 60 }, strict: { failureRateThreshold: 10 } },
        instances: {
          product: { waitDurationInOpenState: '10s', slidingWindowType: 'TIME_BASED' },
          review: { baseConfig: 'strict', minimumNumberOfCalls: '5' },
        },
      },
    };
    expect(circuitBreakerSettings(config, 'product')).toMatchObject({
      slidingWindowSize: 20,
      failureRateThreshold: 60,
      waitDurationInOpenStateMs: 10_000,
      slidingWindowType: 'TIME_BASED',
      permittedNumberOfCallsInHalfOpenState: 10,
    });
    expect(circuitBreakerSettings(config, 'review')).toMatchObject({
      failureRateThreshold: 10,
      slidingWindowSize: 100,
      minimumNumberOfCalls: 5,
    });
  });

  it('reads durations as Spring binds them', () => {
    const wait = (v: number | string) =>
      retrySettings({ retry: { instances: { a: { waitDuration: v } } } }, 'a').waitDurationMs;
    expect([wait(250), wait('250'), wait('250ms'), wait('2s'), wait('1m'), wait('PT1.5S')]).toEqual([
      250, 250, 250, 2000, 60_000, 1500,
    ]);
  });

  it('names the property that has a bad value, at creation', () => {
    const make = () =>
      createResilience({ config: { circuitbreaker: { instances: { product: { failureRateThreshold: 'half' } } } } });
    expect(make).toThrow(ResilienceError);
    expect(make).toThrow('resilience4j.circuitbreaker.instances.product.failureRateThreshold: "half" is not');
    expect(() => createResilience({ config: { retry: { configs: { default: { maxAttempts: 0 } } } } })).toThrow(
      'resilience4j.retry.configs.default.maxAttempts',
    );
    expect(() =>
      createResilience({ config: { timelimiter: { instances: { a: { timeoutDuration: 'soon' } } } } }),
    ).toThrow('timeoutDuration');
    expect(() => createResilience({ config: { bulkhead: { instances: { a: { baseConfig: 'nope' } } } } })).toThrow(
      'no configs.nope',
    );
  });

  it('builds the configuration from flat config-server properties, kebab-case and lists included', () => {
    const config = resilienceConfigFromProperties({
      'resilience4j.circuitbreaker.instances.product.failure-rate-threshold': '40',
      'resilience4j.circuitbreaker.instances.product.ignoreExceptions[0]': 'NotFound',
      'resilience4j.circuitbreaker.instances.product.ignoreExceptions[1]': 'BadRequest',
      'resilience4j.retry.configs.default.max-attempts': '2',
      'spring.application.name': 'composite',
    });
    expect(config).toEqual({
      circuitbreaker: {
        instances: { product: { failureRateThreshold: '40', ignoreExceptions: ['NotFound', 'BadRequest'] } },
      },
      retry: { configs: { default: { maxAttempts: '2' } } },
    });
    expect(circuitBreakerSettings(config, 'product')).toMatchObject({
      failureRateThreshold: 40,
      ignoreExceptions: ['NotFound', 'BadRequest'],
    });
    expect(retrySettings(config, 'anything').maxAttempts).toBe(2);
  });

  it('accepts kebab-case keys in a nested configuration too', () => {
    const config = { circuitbreaker: { instances: { a: { 'sliding-window-size': 7 } } } } as never;
    expect(circuitBreakerSettings(config, 'a').slidingWindowSize).toBe(7);
  });
});
