import { afterEach, describe, expect, it, vi } from 'vitest';
import { Registry } from '../../src/registry/registry.ts';
import { startSweeper } from '../../src/registry/sweeper.ts';
import { instance } from '../helpers.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('startSweeper', () => {
  it('evicts an expired lease on the first sweep at or after its expiry, and logs it', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const mem = captureLogger();
    const registry = new Registry({ clock: Date.now, selfPreservation: { enabled: false } });
    const sweeper = startSweeper({ registry, intervalMs: 5000, log: mem.logger });
    registry.register(instance('A', 'a1', { durationInSecs: 10 }));
    vi.advanceTimersByTime(9_999);
    expect(registry.size).toBe(1);
    vi.advanceTimersByTime(1);
    expect(registry.size).toBe(0);
    expect(mem.text()).toContain('lease expired; instance evicted');
    sweeper.stop();
  });

  it('stops sweeping when stopped', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const registry = new Registry({ clock: Date.now, selfPreservation: { enabled: false } });
    const sweep = vi.spyOn(registry, 'evictExpired');
    const sweeper = startSweeper({ registry, intervalMs: 1000, log: captureLogger().logger });
    vi.advanceTimersByTime(3000);
    expect(sweep).toHaveBeenCalledTimes(3);
    sweeper.stop();
    vi.advanceTimersByTime(3000);
    expect(sweep).toHaveBeenCalledTimes(3);
  });

  it('logs self-preservation engaging with its explanation', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const mem = captureLogger();
    const registry = new Registry({ clock: Date.now, selfPreservation: { enabled: true, minInstances: 2 } });
    for (const id of ['a', 'b', 'c']) registry.register(instance('A', id));
    const sweeper = startSweeper({ registry, intervalMs: 5000, log: mem.logger });
    vi.advanceTimersByTime(65_000);
    expect(registry.selfPreservation().engaged).toBe(true);
    expect(mem.text()).toContain('Self-preservation is ON');
    sweeper.stop();
  });

  it('keeps sweeping after a sweep throws', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const mem = captureLogger();
    const registry = new Registry({ clock: Date.now });
    const sweep = vi.spyOn(registry, 'evictExpired').mockImplementationOnce(() => {
      throw new Error('disk on fire');
    });
    const sweeper = startSweeper({ registry, intervalMs: 1000, log: mem.logger });
    vi.advanceTimersByTime(2000);
    expect(sweep).toHaveBeenCalledTimes(2);
    expect(mem.text()).toContain('eviction sweep failed');
    sweeper.stop();
  });
});
