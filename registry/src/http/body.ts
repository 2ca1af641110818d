// Request bodies as text: strictly UTF-8, as Eureka's JSON and XML bodies are.
import type { KitEnv } from '@trellis/kit';
import type { Context } from 'hono';
import { RegistryError } from '../errors.ts';

// fatal: a byte sequence that is not UTF-8 throws rather than becoming U+FFFD, which would be stored as if sent.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The request body as text; 400 when it is not UTF-8, before anything reads it. */
export async function utf8Body(c: Context<KitEnv>): Promise<string> {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new RegistryError('invalid_request', 'Malformed body: it is not valid UTF-8');
  }
}
