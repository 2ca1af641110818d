// The example services' errors: one closed union of codes and the HTTP status of each.
import { TrellisError } from '@trellis/kit';

/** What the example services refuse, as the Spring sample's InvalidInputException and NotFoundException do. */
export type ExampleErrorCode = 'bad_request' | 'invalid_input' | 'not_found' | 'events_unavailable';

const STATUS = {
  bad_request: 400,
  invalid_input: 422,
  not_found: 404,
  events_unavailable: 503,
} as const satisfies Record<ExampleErrorCode, number>;

/** Rendered by the service kit's one onError as `{ error: code, message }` with the status of the table above. */
export class ExampleError extends TrellisError<ExampleErrorCode> {
  get status(): number {
    return STATUS[this.code];
  }
}

/**
 * Reads a product id from a path or query: not a whole number → 400 (the Spring sample's type mismatch), below 1 → 422.
 *
 * @example
 * parseProductId('13'); // 13
 */
export function parseProductId(raw: string | undefined, where = 'productId'): number {
  if (raw === undefined || raw === '') throw new ExampleError('bad_request', `${where} is required`);
  if (!/^-?\d{1,15}$/.test(raw))
    throw new ExampleError('bad_request', `${where} must be a whole number, not ${JSON.stringify(raw.slice(0, 40))}`);
  const id = Number(raw);
  if (id < 1) throw new ExampleError('invalid_input', `Invalid productId: ${id}`);
  return id;
}
