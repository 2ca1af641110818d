// The events module's one error class and its closed set of codes, each with its HTTP status.
import { TrellisError } from '@trellis/kit';

/**
 * Why an events operation failed. Closed, so a caller can switch exhaustively: a service maps `broker_unavailable`
 * to its own 503 and retries later; `invalid_options` is a programming error raised at once.
 */
export type EventsErrorCode =
  /** The options given to a binder, producer or consumer cannot work (no destination, partition index out of range). */
  | 'invalid_options'
  /** A payload could not be encoded as JSON, or a partition key is neither a string nor a 32-bit integer. */
  | 'invalid_payload'
  /** The broker stayed away longer than the publish timeout; the message was not confirmed and the caller must retry. */
  | 'broker_unavailable'
  /** The broker refused the message (negative confirm) or could not route it to any queue. */
  | 'publish_rejected'
  /** The binder was closed; nothing more can be sent or consumed through it. */
  | 'closed'
  /** No dead letter with that id is in the dead-letter queue. */
  | 'not_found';

const STATUS = {
  invalid_options: 500,
  invalid_payload: 400,
  broker_unavailable: 503,
  publish_rejected: 502,
  closed: 503,
  not_found: 404,
} as const satisfies Record<EventsErrorCode, number>;

/**
 * The one error class of the events module. Messages name destinations, groups and queues, never payloads, so they
 * are safe to log.
 *
 * @example
 * try {
 *   await producer.send({ type: 'CREATE', key: 1 });
 * } catch (err) {
 *   if (err instanceof EventsError && err.code === 'broker_unavailable') return c.json({ error: 'try later' }, 503);
 *   throw err;
 * }
 */
export class EventsError extends TrellisError<EventsErrorCode> {
  constructor(code: EventsErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
  }

  get status(): number {
    return STATUS[this.code];
  }
}
