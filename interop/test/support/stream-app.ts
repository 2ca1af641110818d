// The Spring Cloud Stream app of interop/spring-cloud-stream as the broker interop tests drive it: build and start it
// on one binder, ask it to publish, read what it received; plus the keys, events and fixtures both tests share.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectPartition, type EventBinder, type EventMessage, type Producer } from '@trellis/clients/events';
import { freePort, mavenPackage, requireJdkAndMaven, startJava, waitUntilUp, type JavaApp } from './jvm.ts';

const PROJECT = fileURLToPath(new URL('../../spring-cloud-stream/', import.meta.url));
const JAR = join(PROJECT, 'target', 'stream-interop.jar');
const FIXTURES = fileURLToPath(new URL('../../../clients/test/events/fixtures/', import.meta.url));

/** Both sides' partition count (the Spring producer's partitionCount, the Node producer's too). */
export const PARTITIONS = 2;

/** The JSON both sides exchange (the app's Event record); `fail` asks whichever consumer gets it to throw. */
export interface InteropEvent {
  readonly key: string;
  readonly seq: number;
  readonly origin: 'node' | 'spring';
  readonly fail: boolean;
}

/** A header as the Spring app saw it: its Java class and its value (bytes as base64). */
export interface SpringHeader {
  readonly type: string;
  readonly value: string;
}

/** One delivery to the Spring consumer (`fromNode-in-0`), retries included. */
export interface SpringDelivery {
  readonly payload: InteropEvent;
  readonly headers: Readonly<Record<string, SpringHeader>>;
}

/** Node consumers retry as the Spring app's binding does: 3 attempts, short back-off, so a DLQ fills within a second. */
export const QUICK_RETRIES = { maxAttempts: 3, backoff: { initialIntervalMs: 50, maxIntervalMs: 200 } } as const;

/** A Node handler that records each delivery into `into` and fails the events marked `fail`, as the Spring app does. */
export function recorder(into: EventMessage<InteropEvent>[]): (message: EventMessage<InteropEvent>) => void {
  return (message) => {
    into.push(message);
    if (message.payload.fail) throw new Error(`refused by node: ${message.payload.key}`);
  };
}

export interface StreamApp {
  readonly jvm: JavaApp;
  readonly url: string;
}

/**
 * Builds the app and starts it with one binder's profile, reading `fromNode` and writing `toNode`; resolves once its
 * health (binders included) is UP.
 */
export async function startStreamApp(options: {
  readonly profile: 'rabbit' | 'kafka';
  readonly fromNode: string;
  readonly toNode: string;
  readonly env: Record<string, string>;
  readonly work: string;
}): Promise<StreamApp> {
  requireJdkAndMaven();
  await mavenPackage(PROJECT, join(options.work, 'mvn.log'));
  const port = await freePort();
  const jvm = startJava({
    args: ['-jar', JAR],
    cwd: options.work,
    log: join(options.work, `jvm-${options.profile}.log`),
    env: {
      SPRING_PROFILES_ACTIVE: options.profile,
      TRELLIS_APP_PORT: String(port),
      TRELLIS_FROM_NODE: options.fromNode,
      TRELLIS_TO_NODE: options.toNode,
      ...options.env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(jvm, url);
  return { jvm, url };
}

/** Asks the app to send `event` on `toNode-out-0` (partition key header = the event's key). */
export async function publishFromSpring(app: StreamApp, event: InteropEvent): Promise<void> {
  const res = await fetch(`${app.url}/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(event),
  });
  if (res.status !== 202) throw new Error(`the Spring app answered ${res.status} to /publish`);
}

/** Sends one event per key from Spring, `seq` counting from 0. */
export async function publishAllFromSpring(app: StreamApp, keys: readonly string[]): Promise<void> {
  for (const [seq, key] of keys.entries()) await publishFromSpring(app, { key, seq, origin: 'spring', fail: false });
}

export async function springDeliveries(app: StreamApp): Promise<SpringDelivery[]> {
  return (await (await fetch(`${app.url}/received`)).json()) as SpringDelivery[];
}

/** The keys of the Spring consumer's deliveries that start with `prefix`, attempts included. */
export async function springKeys(app: StreamApp, prefix: string): Promise<string[]> {
  return (await springDeliveries(app)).map((d) => d.payload.key).filter((key) => key.startsWith(prefix));
}

/** The Node producer of both tests: partitioned on the event's key like the Spring producer. */
export function nodeProducer(binder: EventBinder, destination: string): Promise<Producer<InteropEvent>> {
  return binder.producer<InteropEvent>({ destination, partitionKey: (event) => event.key, partitionCount: PARTITIONS });
}

/** Sends one event per key from Node, `seq` counting from `firstSeq`, with an `origin` header. */
export async function sendAllFromNode(
  producer: Producer<InteropEvent> | undefined,
  keys: readonly string[],
  options: { fail: boolean; firstSeq: number },
): Promise<void> {
  if (producer === undefined) throw new Error('no Node producer');
  for (const [n, key] of keys.entries()) {
    const event: InteropEvent = { key, seq: options.firstSeq + n, origin: 'node', fail: options.fail };
    await producer.send(event, { headers: { origin: 'node' } });
  }
}

/** `count` keys `<prefix>-<n>` that Spring's partition selection puts in `partition`. */
export function keysIn(partition: number, count: number, prefix: string): string[] {
  const keys: string[] = [];
  for (let n = 0; keys.length < count; n++) {
    const key = `${prefix}-${n}`;
    if (selectPartition(key, PARTITIONS) === partition) keys.push(key);
  }
  return keys;
}

/** `count` keys in each of the two partitions, partition 0's first. */
export function keysInBoth(count: number, prefix: string): string[] {
  return [...keysIn(0, count, prefix), ...keysIn(1, count, prefix)];
}

/** Counts of each key's handling, so a test can say "each once" in one comparison. */
export function timesEach(keys: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}

/**
 * Payloads and headers the real Spring app wrote, kept in clients/test/events/fixtures/<name>.json. They are
 * re-recorded when TRELLIS_RECORD_FIXTURES=1 (with the run's destination names made generic), and otherwise compared
 * with what the app writes now, so a Spring upgrade that changes its wire shows up here.
 */
export function recording(): boolean {
  return process.env.TRELLIS_RECORD_FIXTURES === '1';
}

export function writeFixture(name: string, value: unknown, runPrefix: string): void {
  mkdirSync(FIXTURES, { recursive: true });
  const text = JSON.stringify(value, null, 2).replaceAll(runPrefix, '');
  writeFileSync(join(FIXTURES, `${name}.json`), `${text}\n`);
}

export function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as T;
}
