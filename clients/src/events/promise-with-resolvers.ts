// Promise.withResolvers where the running Node lacks it (Node 20): the one newer built-in @platformatic/kafka calls.

/** What Promise.withResolvers returns (ES2024, newer than this project's ES2023 lib). */
export interface PromiseResolvers<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T | PromiseLike<T>) => void;
  readonly reject: (reason?: unknown) => void;
}

/** Promise.withResolvers as ES2024 defines it: a new promise of `this` constructor, and the functions settling it. */
export function withResolvers<T>(this: PromiseConstructor): PromiseResolvers<T> {
  let resolve!: PromiseResolvers<T>['resolve'];
  let reject!: PromiseResolvers<T>['reject'];
  const promise = new this<T>((settle, fail) => {
    resolve = settle;
    reject = fail;
  });
  return { promise, resolve, reject };
}

// @platformatic/kafka declares Node >= 22.22, yet Promise.withResolvers (Node 22+) is all it uses that Node 20 lacks;
// with it defined, the Kafka suites pass on Node 20.20. Defined like a built-in (not enumerable), only where missing.
if (!('withResolvers' in Promise)) {
  Object.defineProperty(Promise, 'withResolvers', { value: withResolvers, writable: true, configurable: true });
}
