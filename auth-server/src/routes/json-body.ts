import type { Context } from 'hono';
import type { KitEnv } from '@trellis/clients';
import { AuthServerError } from '../errors.ts';

/**
 * The request body as a JSON object, for the routes that take client metadata (admin API, RFC 7591/7592). Anything
 * else is refused with `invalid_client_metadata` and the reason, before any stored state is touched.
 */
export async function clientMetadataBody(c: Context<KitEnv>): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new AuthServerError('invalid_client_metadata', 'the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AuthServerError('invalid_client_metadata', 'send the client metadata as a JSON object');
  }
  return body as Record<string, unknown>;
}
