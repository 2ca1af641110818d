// Limits on authorization requests: their size, and the interactions one source may have started at a time.
// An authorization request is anonymous and, for a browser not yet signed in, makes the provider store an Interaction
// row (with the whole request in it) for its lifetime: without limits anyone can grow the database at will.
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import type { KitEnv } from '@trellis/kit';
import { messagePage } from '../views/page-templates.ts';
import { INTERACTION_PREFIX, INTERACTION_TTL } from './constants.ts';

/** Longest `state` or `nonce` (characters): opaque values a client makes, far below this in practice. */
export const MAX_PARAMETER_LENGTH = 2048;
/** Longest whole authorization request (its query, or form body for POST), in bytes. */
export const MAX_REQUEST_BYTES = 8192;
/** Interactions one source may start within INTERACTION_WINDOW_MS. */
export const MAX_INTERACTIONS_PER_SOURCE = 50;
/** The provider's Interaction lifetime: a row started stays at most this long. */
export const INTERACTION_WINDOW_MS = INTERACTION_TTL * 1000;
/** Sources tracked before expired ones are swept (bounded memory under a spray of addresses). */
const SWEEP_AT = 10_000;

const CAPPED = new Set(['state', 'nonce']);

/** Counts the interactions each source started within the window; a slot is taken before the request runs. */
export class InteractionCap {
  readonly #started = new Map<string, number[]>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(options: { max?: number; windowMs?: number; now?: () => number } = {}) {
    this.#max = options.max ?? MAX_INTERACTIONS_PER_SOURCE;
    this.#windowMs = options.windowMs ?? INTERACTION_WINDOW_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Takes a slot for `source`: a release function (for a request that started no interaction after all), or the whole
   * seconds until one frees up. Taken before the request runs, so a parallel burst cannot all pass the check.
   */
  take(source: string): { release(): void } | { retryAfterSec: number } {
    const now = this.#now();
    if (this.#started.size >= SWEEP_AT) this.#sweep(now);
    const times = (this.#started.get(source) ?? []).filter((t) => t > now - this.#windowMs);
    if (times.length >= this.#max) {
      this.#started.set(source, times);
      return { retryAfterSec: Math.max(1, Math.ceil(((times[0] ?? now) + this.#windowMs - now) / 1000)) };
    }
    times.push(now);
    this.#started.set(source, times);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const current = this.#started.get(source);
        const i = current?.lastIndexOf(now) ?? -1;
        if (current !== undefined && i >= 0) current.splice(i, 1);
        if (current?.length === 0) this.#started.delete(source);
      },
    };
  }

  #sweep(now: number): void {
    for (const [source, times] of this.#started) {
      if (times.every((t) => t <= now - this.#windowMs)) this.#started.delete(source);
    }
  }
}

/** What is wrong with an authorization request's size, or undefined. */
function oversize(raw: string): string | undefined {
  if (Buffer.byteLength(raw) > MAX_REQUEST_BYTES) {
    return `the request is over ${MAX_REQUEST_BYTES} bytes`;
  }
  for (const [name, value] of new URLSearchParams(raw)) {
    if (CAPPED.has(name) && value.length > MAX_PARAMETER_LENGTH) {
      return `${name} is over ${MAX_PARAMETER_LENGTH} characters`;
    }
  }
  return undefined;
}

/**
 * Guards the authorization endpoint (and PAR, which takes the same parameters): 400 with the reason for an oversized
 * request, 429 with Retry-After once the source has started its share of interactions. Answers before the provider
 * stores anything. `sourceOf` reads the source as the throttles do (trusted proxies, with their secret).
 */
export function authorizationLimits(options: {
  readonly authorizePath: string;
  readonly parPath: string;
  readonly sourceOf: (req: IncomingMessage) => string;
  readonly cap: InteractionCap;
}): MiddlewareHandler<KitEnv> {
  const refuse = (c: Context<KitEnv>, status: 400 | 429, title: string, message: string): Response =>
    c.html(messagePage(title, message), status);
  return async (c, next) => {
    // The provider's router takes any case and a trailing slash (/OAUTH2/Authorize/): compare as it matches.
    const path = c.req.path.toLowerCase().replace(/\/+$/, '');
    if (path !== options.authorizePath && path !== options.parPath) return next();
    const env: Partial<KitEnv['Bindings']> | undefined = c.env;
    const req = env?.incoming;
    if (req === undefined) return next();
    let raw = new URL(c.req.url).search.slice(1);
    if (c.req.method === 'POST') {
      // Read here (within the kit's body limit), so the provider takes the text from req.body (see mount.ts).
      const body = await c.req.text();
      (req as IncomingMessage & { body?: string }).body = body;
      raw = raw === '' ? body : `${raw}&${body}`;
    }
    const problem = oversize(raw);
    if (problem !== undefined) {
      return refuse(c, 400, 'Sign-in request refused', `This sign-in request is too large: ${problem}.`);
    }
    if (path !== options.authorizePath) return next();
    const slot = options.cap.take(options.sourceOf(req));
    if ('retryAfterSec' in slot) {
      c.header('retry-after', String(slot.retryAfterSec));
      return refuse(
        c,
        429,
        'Too many sign-ins',
        `Too many sign-ins were started from your network. Try again in ${slot.retryAfterSec} seconds.`,
      );
    }
    try {
      await next();
    } finally {
      // The provider answered on the node response: a redirect to the interaction pages means it stored one.
      const location = env?.outgoing?.getHeader('location');
      if (typeof location !== 'string' || !location.includes(`${INTERACTION_PREFIX}/`)) slot.release();
    }
  };
}
