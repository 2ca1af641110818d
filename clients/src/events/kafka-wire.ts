// Spring Cloud Stream's Kafka binder on the wire: topic names, record headers as spring-kafka maps them, and the
// dead-letter headers its DeadLetterPublishingRecoverer adds. Kept apart from the client so each byte can be tested.
import { randomUUID } from 'node:crypto';
import { PARTITION_HEADER } from './naming.ts';
import type { HeaderValue } from './types.ts';

/** spring-kafka's DefaultKafkaHeaderMapper: a JSON map header name → Java class, so Spring reads the others typed. */
export const TYPES_HEADER = 'spring_json_header_types';

export const CONTENT_TYPE = 'contentType';

/** The headers the binder's dead-letter recoverer adds (KafkaMessageChannelBinder.X_*), all of them. */
export const DLQ_HEADERS = {
  originalTopic: 'x-original-topic',
  /** 4-byte big-endian int. */
  originalPartition: 'x-original-partition',
  /** 8-byte big-endian long. */
  originalOffset: 'x-original-offset',
  /** 8-byte big-endian long, epoch milliseconds. */
  originalTimestamp: 'x-original-timestamp',
  /** `CreateTime` or `LogAppendTime`. */
  originalTimestampType: 'x-original-timestamp-type',
  exceptionFqcn: 'x-exception-fqcn',
  exceptionMessage: 'x-exception-message',
  exceptionStacktrace: 'x-exception-stacktrace',
} as const;

/**
 * Trellis's own headers, ignored by Spring: the delivery id a replayed dead letter keeps (so a handler de-duplicating
 * by id recognises it), and the one group a replay is meant for (other Trellis groups skip it).
 */
export const DELIVERY_ID_HEADER = 'trellis_delivery_id';
export const REPLAY_GROUP_HEADER = 'trellis_replay_group';

/** Spring's dead-letter topic of a group: `error.<destination>.<group>`. */
export function deadLetterTopic(destination: string, group: string): string {
  return `error.${destination}.${group}`;
}

/** Spring's group id for a consumer without a group (`anonymous.` + a random UUID); it starts at the latest offset. */
export function anonymousGroupId(): string {
  return `anonymous.${randomUUID()}`;
}

/** How a record is identified across redeliveries: its place in the log. */
export function recordId(topic: string, partition: number, offset: bigint | number): string {
  return `${topic}-${partition}@${offset}`;
}

export type WireHeaders = Map<Buffer, Buffer>;

/** The Java class spring-kafka records for a header value, so a Spring consumer gets a String, Integer, … back. */
function javaClassOf(value: HeaderValue): string {
  if (typeof value === 'string') return 'java.lang.String';
  if (typeof value === 'boolean') return 'java.lang.Boolean';
  if (Number.isInteger(value)) {
    return value >= -2_147_483_648 && value <= 2_147_483_647 ? 'java.lang.Integer' : 'java.lang.Long';
  }
  return 'java.lang.Double';
}

/**
 * Headers as Spring Cloud Stream writes them: Strings raw in UTF-8, other values as JSON (`7`, `true`), and
 * `spring_json_header_types` naming each one's Java class.
 *
 * @example
 * encodeHeaders({ contentType: 'application/json', scst_partition: 1 });
 * // contentType: application/json, scst_partition: 1,
 * // spring_json_header_types: {"contentType":"java.lang.String","scst_partition":"java.lang.Integer"}
 */
export function encodeHeaders(headers: Readonly<Record<string, HeaderValue>>): WireHeaders {
  const wire: WireHeaders = new Map();
  const types: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    wire.set(Buffer.from(name), Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));
    types[name] = javaClassOf(value);
  }
  wire.set(Buffer.from(TYPES_HEADER), Buffer.from(JSON.stringify(types)));
  return wire;
}

const NUMERIC = new Set([
  'java.lang.Integer',
  'java.lang.Long',
  'java.lang.Short',
  'java.lang.Byte',
  'java.lang.Double',
  'java.lang.Float',
]);

function decodeTyped(raw: Buffer, javaClass: string | undefined): unknown {
  const text = raw.toString('utf8');
  if (javaClass === undefined || javaClass === 'java.lang.String') {
    // spring-kafka before 2.3 JSON-encoded Strings too; a quoted value is read back the way it was meant.
    if (javaClass === 'java.lang.String' && text.length > 1 && text.startsWith('"') && text.endsWith('"')) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    }
    return text;
  }
  if (NUMERIC.has(javaClass)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Parsed `spring_json_header_types` maps, by their text: every record of a producer carries the same few. */
class TypesCache {
  readonly #maps = new Map<string, Readonly<Record<string, string>>>();

  get(raw: Buffer | undefined): Readonly<Record<string, string>> {
    if (raw === undefined) return {};
    const text = raw.toString('utf8');
    let types = this.#maps.get(text);
    if (types === undefined) {
      types = parseTypes(text);
      if (this.#maps.size >= 256) this.#maps.clear();
      this.#maps.set(text, types);
    }
    return types;
  }
}

function parseTypes(text: string): Readonly<Record<string, string>> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/**
 * Reads record headers the way a Spring consumer does: typed by `spring_json_header_types` (Integer → number,
 * String → text), and headers it does not type as UTF-8 text (Spring would hand those over as byte[]).
 */
export class HeaderDecoder {
  readonly #types = new TypesCache();

  decode(entries: Iterable<readonly [Buffer, Buffer]>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let typesRaw: Buffer | undefined;
    const raw: [string, Buffer][] = [];
    for (const [rawName, value] of entries) {
      const name = rawName.toString('utf8');
      if (name === TYPES_HEADER) typesRaw = value;
      else raw.push([name, value]);
    }
    const types = this.#types.get(typesRaw);
    for (const [name, value] of raw) out[name] = decodeTyped(value, types[name]);
    return out;
  }
}

/** What the binder must know of every record before its handler runs, found without decoding every header. */
export interface RecordMarks {
  /** `scst_partition`, when the producer partitioned. */
  readonly partition: number | undefined;
  /** `trellis_delivery_id`: the id a replayed dead letter keeps. */
  readonly deliveryId: string | undefined;
  /** `trellis_replay_group`: the only group a replayed dead letter is for. */
  readonly replayGroup: string | undefined;
}

const MARKS = [PARTITION_HEADER, DELIVERY_ID_HEADER, REPLAY_GROUP_HEADER].map((name) => Buffer.from(name));

/**
 * Reads the few headers the binder acts on. Comparing lengths first skips nearly every header without touching its
 * bytes, so a record's headers cost almost nothing unless the handler reads them.
 */
export function readMarks(headers: ReadonlyMap<Buffer, Buffer>): RecordMarks {
  let partition: number | undefined;
  let deliveryId: string | undefined;
  let replayGroup: string | undefined;
  for (const [name, value] of headers) {
    const length = name.length;
    if (length === 14 && name.equals(MARKS[0] as Buffer)) {
      const n = Number(value.toString('latin1'));
      if (Number.isInteger(n) && n >= 0) partition = n;
    } else if (length === 19 && name.equals(MARKS[1] as Buffer)) {
      deliveryId = value.toString('utf8');
    } else if (length === 20 && name.equals(MARKS[2] as Buffer)) {
      replayGroup = value.toString('utf8');
    }
  }
  return { partition, deliveryId, replayGroup };
}

function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

function int64(value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(value);
  return b;
}

/** Where a failed record came from, as the dead-letter headers record it. */
export interface FailedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: bigint;
}

/** Why it failed: the exception's class (its `name` in Node), message and stack. */
export interface Failure {
  readonly errorClass: string;
  readonly reason: string;
  readonly stacktrace: string;
}

/** Headers spring-kafka's DeadLetterPublishingRecoverer sets; a dead letter's earlier ones are replaced, not added. */
const FAILURE_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(DLQ_HEADERS));

/**
 * The dead letter's headers: the original ones kept, plus the binder's `x-original-*` and `x-exception-*` headers in
 * spring-kafka's encodings (partition as a 4-byte int, offset and timestamp as 8-byte longs, the rest UTF-8).
 */
export function deadLetterHeaders(
  original: Iterable<readonly [Buffer, Buffer]>,
  from: FailedRecord,
  why: Failure,
): WireHeaders {
  const wire: WireHeaders = new Map();
  for (const [name, value] of original) if (!FAILURE_HEADER_NAMES.has(name.toString('utf8'))) wire.set(name, value);
  const add = (name: string, value: Buffer): void => void wire.set(Buffer.from(name), value);
  add(DLQ_HEADERS.originalTopic, Buffer.from(from.topic));
  add(DLQ_HEADERS.originalPartition, int32(from.partition));
  add(DLQ_HEADERS.originalOffset, int64(from.offset));
  add(DLQ_HEADERS.originalTimestamp, int64(from.timestamp));
  add(DLQ_HEADERS.originalTimestampType, Buffer.from('CreateTime'));
  add(DLQ_HEADERS.exceptionFqcn, Buffer.from(why.errorClass));
  add(DLQ_HEADERS.exceptionMessage, Buffer.from(why.reason));
  add(DLQ_HEADERS.exceptionStacktrace, Buffer.from(why.stacktrace));
  return wire;
}

/** The dead-letter headers as values a person reads: numbers for the binary ones, text for the rest. */
export function readDeadLetterHeader(name: string, raw: Buffer): string | number {
  if (name === DLQ_HEADERS.originalPartition && raw.length === 4) return raw.readInt32BE();
  if ((name === DLQ_HEADERS.originalOffset || name === DLQ_HEADERS.originalTimestamp) && raw.length === 8) {
    return Number(raw.readBigInt64BE());
  }
  return raw.toString('utf8');
}

/** The place of the record a dead letter was made from, when its headers say. */
export function originOf(
  headers: ReadonlyMap<string, Buffer>,
): { topic: string; partition: number; offset: bigint } | undefined {
  const topic = headers.get(DLQ_HEADERS.originalTopic);
  const partition = headers.get(DLQ_HEADERS.originalPartition);
  const offset = headers.get(DLQ_HEADERS.originalOffset);
  if (topic === undefined || partition?.length !== 4 || offset?.length !== 8) return undefined;
  return { topic: topic.toString('utf8'), partition: partition.readInt32BE(), offset: offset.readBigInt64BE() };
}

/** Header names a replay drops, so a second failure records its own reason (and Trellis's replay marks are fresh). */
export function isFailureHeader(name: string): boolean {
  return FAILURE_HEADER_NAMES.has(name) || name === REPLAY_GROUP_HEADER || name === DELIVERY_ID_HEADER;
}
