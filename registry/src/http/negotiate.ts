// Eureka's content negotiation and encoding: JSON only when Accept mentions json (XML otherwise, also with no
// Accept), gzip when Accept-Encoding allows it, and the replication header that marks a peer's request.
import { gzipSync } from 'node:zlib';
import type { KitEnv } from '@trellis/kit';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { formatForAccept } from '../eureka/index.ts';
import type { WireFormat } from '../eureka/index.ts';
import { RegistryError } from '../errors.ts';

/** Eureka's PeerEurekaNode.HEADER_REPLICATION. */
export const REPLICATION_HEADER = 'x-netflix-discovery-replication';

export function wireFormat(c: Context<KitEnv>): WireFormat {
  return formatForAccept(c.req.header('accept'));
}

/** Whether the client takes gzip (a `gzip;q=0` refusal included). */
export function acceptsGzip(c: Context<KitEnv>): boolean {
  const header = c.req.header('accept-encoding');
  if (header === undefined) return false;
  for (const part of header.toLowerCase().split(',')) {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim() !== 'gzip') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/** True when a peer sent the request; its changes are then not replicated again. */
export function isReplication(c: Context<KitEnv>): boolean {
  return c.req.header(REPLICATION_HEADER)?.trim().toLowerCase() === 'true';
}

export function contentType(format: WireFormat): string {
  return format === 'json' ? 'application/json' : 'application/xml';
}

/** A body already encoded for one (format, gzip) pair, as the response cache keeps it. */
export type EncodedBody = string | Uint8Array<ArrayBuffer>;

export function encode(text: string, gzip: boolean): EncodedBody {
  return gzip ? gzipSync(text) : text;
}

/**
 * Sends a Eureka document in the negotiated format, gzipped when accepted. `body` may be pre-encoded by the
 * response cache for the same `gzip` value.
 */
export function sendDocument(
  c: Context<KitEnv>,
  status: 200 | 409,
  body: EncodedBody,
  format: WireFormat,
  gzip: boolean,
): Response {
  c.header('content-type', contentType(format));
  c.header('vary', 'Accept, Accept-Encoding');
  if (gzip) c.header('content-encoding', 'gzip');
  const payload = typeof body === 'string' && gzip ? gzipSync(body) : body;
  return c.body(payload, status);
}

/** Renders with `render(format)` and sends it, negotiated from the request. */
export function sendRendered(c: Context<KitEnv>, status: 200 | 409, render: (format: WireFormat) => string): Response {
  const format = wireFormat(c);
  return sendDocument(c, status, render(format), format, acceptsGzip(c));
}

// JSON and XML, also as structured suffixes (application/vnd.x+json). None of them is a type a web page may send to
// another origin without a CORS preflight, which text/plain, forms and a missing Content-Type are.
const WIRE_BODY_TYPE = /^(?:application\/json|application\/xml|text\/xml|[\w.!#$&^-]+\/[\w.!#$&^+-]+\+(?:json|xml))$/;

/**
 * Refuses (415, with the reason) a write whose body is not declared JSON or XML, before anything reads it: Eureka's
 * Jersey answers 415 too, and Spring's and eureka-js-client's registrations and peers' batches all send
 * application/json. A cross-site page can only send text/plain, a form or no type without a preflight, so this is
 * what keeps a browser that holds the registry's credentials from being made to register.
 */
export function wireBodyGuard(): MiddlewareHandler<KitEnv> {
  return async (c, next) => {
    // A method no route serves here is the kit's 405 with Allow, whatever its body: only a write a route takes is judged.
    if (hasBody(c) && routeServes(c)) {
      const header = c.req.header('content-type');
      const type = header?.split(';')[0]?.trim().toLowerCase() ?? '';
      if (!WIRE_BODY_TYPE.test(type)) {
        const named = /^[\w.!#$&^+-]+\/[\w.!#$&^+-]+$/.test(type)
          ? `Content-Type ${type}`
          : 'a missing or unreadable Content-Type';
        throw new RegistryError(
          'unsupported_media_type',
          `Unsupported body with ${named}: send application/json or application/xml`,
        );
      }
    }
    await next();
  };
}

/**
 * Whether a route (not only middleware) serves this method at this path; when none does, the kit answers 405 with
 * Allow, and the API's guards leave the request to it rather than judge a request nothing would serve.
 */
export function routeServes(c: Context<KitEnv>): boolean {
  return matchedRoutes(c).some((route) => route.method === c.req.method);
}

/**
 * Whether a request is taken to carry a body: every POST (both of the API's POSTs read one, and POST is the method a
 * cross-site page can send unasked), and any other write that declares one (a non-zero length or a chunked body).
 * Heartbeats, status and metadata PUTs and DELETEs carry none, whatever Content-Type a client adds.
 */
function hasBody(c: Context<KitEnv>): boolean {
  const method = c.req.method;
  if (method === 'POST') return true;
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
  if (c.req.header('transfer-encoding') !== undefined) return true;
  const length = c.req.header('content-length')?.trim();
  return length !== undefined && length !== '' && length !== '0';
}
