import { describe, expect, it } from 'vitest';
import { aggregateStatus, HealthRegistry, httpStatusOf, OUT_OF_SERVICE, UP, type Health } from '../src/health.ts';

describe('aggregateStatus', () => {
  it.each([
    [['UP', 'DOWN', 'OUT_OF_SERVICE'], 'DOWN'],
    [['UP', 'OUT_OF_SERVICE', 'UNKNOWN'], 'OUT_OF_SERVICE'],
    [['UNKNOWN', 'UP'], 'UP'],
    [['UNKNOWN'], 'UNKNOWN'],
    [[], 'UNKNOWN'],
    [['CIRCUIT_OPEN', 'UP'], 'UP'],
  ])('aggregates %j to %s (DOWN > OUT_OF_SERVICE > UP > UNKNOWN)', (statuses, expected) => {
    expect(aggregateStatus(statuses)).toBe(expected);
  });

  it('answers 503 only for DOWN and OUT_OF_SERVICE', () => {
    expect(httpStatusOf('DOWN')).toBe(503);
    expect(httpStatusOf('OUT_OF_SERVICE')).toBe(503);
    expect(httpStatusOf('UP')).toBe(200);
    expect(httpStatusOf('UNKNOWN')).toBe(200);
    expect(httpStatusOf('CIRCUIT_OPEN')).toBe(200);
  });
});

describe('HealthRegistry', () => {
  it('reports each component by name with its details', async () => {
    const health = new HealthRegistry();
    health.register('db', () => ({ status: 'UP', details: { database: 'SQLite' } }));
    health.register('broker', async () => Promise.resolve({ status: 'DOWN', details: { error: 'refused' } }));
    expect(await health.check()).toEqual({
      status: 'DOWN',
      components: {
        db: { status: 'UP', details: { database: 'SQLite' } },
        broker: { status: 'DOWN', details: { error: 'refused' } },
      },
    });
  });

  it('turns a throwing indicator into DOWN with the error', async () => {
    const health = new HealthRegistry();
    health.register('disk', () => {
      throw new Error('no space');
    });
    expect(await health.check()).toEqual({
      status: 'DOWN',
      components: { disk: { status: 'DOWN', details: { error: 'Error: no space' } } },
    });
  });

  it('reports an indicator that does not answer in time as DOWN', async () => {
    const health = new HealthRegistry({ timeoutMs: 20 });
    health.register('slow', () => new Promise(() => undefined));
    const h = await health.check();
    expect(h.status).toBe('DOWN');
    expect(h.components?.slow?.details).toEqual({ error: 'no answer within 20 ms' });
  });

  it('checks only the members of a probe group', async () => {
    const health = new HealthRegistry();
    health.register('broker', () => ({ status: 'DOWN' }), { groups: ['readiness'] });
    health.register('ping', () => ({ status: 'UP' }), { groups: ['liveness'] });
    expect((await health.check('liveness')).status).toBe('UP');
    expect((await health.check('readiness')).status).toBe('DOWN');
  });

  it('refuses a name registered twice', () => {
    const health = new HealthRegistry();
    health.register('db', () => ({ status: 'UP' }));
    expect(() => health.register('db', () => ({ status: 'UP' }))).toThrow(/registered twice/);
  });
});

describe('HealthRegistry.evaluate', () => {
  it('reuses the aggregate while frozen answers stay the same, and follows a change at once', () => {
    const health = new HealthRegistry();
    const DOWN = Object.freeze({ status: 'DOWN' });
    let current: Health = UP;
    health.register('db', () => current);
    const first = health.evaluate();
    expect(health.evaluate()).toBe(first);
    current = DOWN;
    const second = health.evaluate() as Health;
    expect(second).not.toBe(first);
    expect(second.status).toBe('DOWN');
  });

  it('never reuses an aggregate built from an answer that could be mutated', () => {
    const health = new HealthRegistry();
    const mutable = { status: 'UP' as string };
    health.register('db', () => mutable);
    const first = health.evaluate() as Health;
    mutable.status = 'DOWN';
    const second = health.evaluate() as Health;
    expect(second).not.toBe(first);
    expect(second.status).toBe('DOWN');
  });

  it('forgets the reused aggregate when a component is added', () => {
    const health = new HealthRegistry();
    health.register('a', () => UP);
    const first = health.evaluate();
    health.register('b', () => OUT_OF_SERVICE);
    expect((health.evaluate() as Health).status).toBe('OUT_OF_SERVICE');
    expect(health.evaluate()).not.toBe(first);
  });
});
