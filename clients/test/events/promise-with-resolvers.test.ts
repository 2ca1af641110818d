// Promise.withResolvers as defined for Node 20, where @platformatic/kafka would otherwise throw on its first call.
import { describe, expect, it } from 'vitest';
import { withResolvers } from '../../src/events/promise-with-resolvers.ts';
import '../../src/events/kafka.ts';

describe('Promise.withResolvers for Node 20', () => {
  it('resolves the promise it returns with the value given to resolve', async () => {
    const { promise, resolve } = withResolvers.call(Promise);
    resolve(42);
    await expect(promise).resolves.toBe(42);
  });

  it('rejects the promise it returns with the reason given to reject', async () => {
    const { promise, reject } = withResolvers.call(Promise);
    reject(new Error('broker gone'));
    await expect(promise).rejects.toThrow('broker gone');
  });

  it('makes a promise of the constructor it is called on, as ES2024 says', () => {
    class TrackedPromise<T> extends Promise<T> {}
    expect(withResolvers.call(TrackedPromise).promise).toBeInstanceOf(TrackedPromise);
  });

  it('is on Promise once the Kafka binder is loaded, whatever the Node', () => {
    expect(typeof (Promise as { withResolvers?: unknown }).withResolvers).toBe('function');
  });
});
