// The health component and actuator endpoints through a real kit service, in-process (service.app.request()).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createService, type Service } from '@trellis/kit';
import { attachResilienceEndpoints } from '../../src/resilience/actuator.ts';
import type { ResilienceConfig } from '../../src/resilience/config.ts';
import { createResilience, type ResilienceRegistry } from '../../src/resilience/registry.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-05-01T10:00:00.000Z'), toFake: ['Date', 'setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const config: ResilienceConfig = {
  circuitbreaker: {
    configs: { default: { slidingWindowSize: 4, minimumNumberOfCalls: 4 } },
    instances: { critical: { allowHealthIndicatorToFail: true }, hidden: { registerHealthIndicator: false } },
  },
  retry: { configs: { default: { maxAttempts: 1 } } },
};

function setup(): { service: Service; resilience: ResilienceRegistry } {
  const { logger } = captureLogger('silent');
  // The breakers' states are health details.
  const service = createService({ name: 'composite', logger, git: false, healthShowDetails: 'always' });
  const resilience = createResilience({ config, logger });
  attachResilienceEndpoints(service, resilience);
  return { service, resilience };
}

async function trip(resilience: ResilienceRegistry, name: string, failures = 3, successes = 1): Promise<void> {
  for (let i = 0; i < successes; i++) await resilience.execute(name, () => 'ok');
  for (let i = 0; i < failures; i++) {
    await resilience.execute(name, () => Promise.reject(new Error('down'))).catch(() => undefined);
  }
}

async function getJson(service: Service, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await service.app.request(path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('circuitBreakers health component', () => {
  it('reports a closed breaker as UP with Resilience4j details', async () => {
    const { service, resilience } = setup();
    await resilience.execute('product', () => 'ok');
    const { status, body } = await getJson(service, '/actuator/health');
    expect(status).toBe(200);
    expect(body.status).toBe('UP');
    expect((body.components as Record<string, unknown>).circuitBreakers).toEqual({
      status: 'UP',
      details: {
        product: {
          status: 'UP',
          details: {
            failureRate: '-1.0%',
            failureRateThreshold: '50.0%',
            slowCallRate: '-1.0%',
            slowCallRateThreshold: '100.0%',
            bufferedCalls: 1,
            failedCalls: 0,
            slowCalls: 0,
            slowFailedCalls: 0,
            notPermittedCalls: 0,
            state: 'CLOSED',
          },
        },
      },
    });
  });

  it('shows an open breaker as CIRCUIT_OPEN without taking the instance DOWN', async () => {
    const { service, resilience } = setup();
    await trip(resilience, 'product');
    await resilience.execute('product', () => 'refused').catch(() => undefined);
    const { status, body } = await getJson(service, '/actuator/health/circuitBreakers');
    expect(status).toBe(200);
    expect(body.status).toBe('CIRCUIT_OPEN');
    const product = (body.details as Record<string, { status: string; details: Record<string, unknown> }>).product;
    expect(product?.status).toBe('CIRCUIT_OPEN');
    expect(product?.details).toMatchObject({
      failureRate: '75.0%',
      failedCalls: 3,
      notPermittedCalls: 1,
      state: 'OPEN',
    });
    const overall = await getJson(service, '/actuator/health');
    expect(overall.status).toBe(200);
    expect(overall.body.status).toBe('UP');
  });

  it('shows HALF_OPEN as CIRCUIT_HALF_OPEN', async () => {
    const { service, resilience } = setup();
    resilience.circuitBreaker('product').transitionToOpenState();
    resilience.circuitBreaker('product').transitionToHalfOpenState();
    const { body } = await getJson(service, '/actuator/health/circuitBreakers');
    expect(body.status).toBe('CIRCUIT_HALF_OPEN');
  });

  it('takes the instance DOWN for a breaker with allowHealthIndicatorToFail', async () => {
    const { service, resilience } = setup();
    await trip(resilience, 'critical', 4, 0);
    const { status, body } = await getJson(service, '/actuator/health');
    expect(status).toBe(503);
    expect(body.status).toBe('DOWN');
  });

  it('leaves out breakers with registerHealthIndicator false', async () => {
    const { service, resilience } = setup();
    await trip(resilience, 'hidden', 4, 0);
    const { body } = await getJson(service, '/actuator/health/circuitBreakers');
    expect(body).toEqual({ status: 'UP', details: {} });
  });
});

describe('GET /actuator/circuitbreakers', () => {
  it('lists every breaker with its details', async () => {
    const { service, resilience } = setup();
    await trip(resilience, 'product');
    await resilience.execute('review', () => 'ok');
    const { status, body } = await getJson(service, '/actuator/circuitbreakers');
    expect(status).toBe(200);
    const breakers = body.circuitBreakers as Record<string, Record<string, unknown>>;
    expect(Object.keys(breakers)).toEqual(['product', 'review']);
    expect(breakers.product).toMatchObject({ state: 'OPEN', failureRate: '75.0%', bufferedCalls: 4 });
    expect(breakers.review).toMatchObject({ state: 'CLOSED', bufferedCalls: 1 });
    expect((await service.app.request('/actuator/circuitbreakers/nope')).status).toBe(404);
    expect((await getJson(service, '/actuator/circuitbreakers/review')).body.state).toBe('CLOSED');
  });
});

describe('GET /actuator/circuitbreakerevents', () => {
  it('answers the last events of every breaker, oldest first', async () => {
    const { service, resilience } = setup();
    await trip(resilience, 'product');
    vi.advanceTimersByTime(5);
    await resilience.execute('review', () => 'ok');
    const { status, body } = await getJson(service, '/actuator/circuitbreakerevents');
    expect(status).toBe(200);
    const events = body.circuitBreakerEvents as Record<string, unknown>[];
    expect(events.map((e) => `${String(e.circuitBreakerName)}:${String(e.type)}`)).toEqual([
      'product:SUCCESS',
      'product:ERROR',
      'product:ERROR',
      'product:ERROR',
      'product:FAILURE_RATE_EXCEEDED',
      'product:STATE_TRANSITION',
      'review:SUCCESS',
    ]);
    expect(events[1]).toMatchObject({
      errorMessage: 'Error',
      durationInMs: 0,
      creationTime: '2026-05-01T10:00:00.000Z',
    });
    expect(events[5]).toMatchObject({ stateTransition: 'CLOSED_TO_OPEN' });
    expect(events[6]).toMatchObject({ creationTime: '2026-05-01T10:00:00.005Z' });
  });

  it('filters by breaker and by event type', async () => {
    const { service, resilience } = setup();
    await trip(resilience, 'product');
    await resilience.execute('review', () => 'ok');
    const byName = await getJson(service, '/actuator/circuitbreakerevents/review');
    expect((byName.body.circuitBreakerEvents as unknown[]).length).toBe(1);
    const byType = await getJson(service, '/actuator/circuitbreakerevents/product/state_transition');
    expect(byType.body.circuitBreakerEvents).toEqual([
      {
        circuitBreakerName: 'product',
        type: 'STATE_TRANSITION',
        creationTime: '2026-05-01T10:00:00.000Z',
        stateTransition: 'CLOSED_TO_OPEN',
      },
    ]);
    expect((await service.app.request('/actuator/circuitbreakerevents/nope')).status).toBe(404);
  });
});

describe('GET /actuator/retryevents', () => {
  it('answers the retries and their events', async () => {
    const { logger } = captureLogger('silent');
    const service = createService({ name: 'composite', logger, git: false });
    const resilience = createResilience({
      config: { retry: { instances: { product: { maxAttempts: 2, waitDuration: 10 } } } },
    });
    attachResilienceEndpoints(service, resilience);
    const done = resilience.execute('product', () => Promise.reject(new Error('down'))).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(10);
    await done;
    expect((await getJson(service, '/actuator/retries')).body).toEqual({ retries: ['product'] });
    const events = (await getJson(service, '/actuator/retryevents')).body.retryEvents as Record<string, unknown>[];
    expect(events.map((e) => [e.type, e.numberOfAttempts])).toEqual([
      ['RETRY', 1],
      ['ERROR', 2],
    ]);
  });
});
