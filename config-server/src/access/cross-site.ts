// Refusals of requests a browser sends for a page of another site (cross-site request forgery).
import type { Context } from 'hono';
import { ConfigServerError } from '../errors.ts';

/**
 * Refuses a request whose `Sec-Fetch-Site` (set by browsers, and by no page script) is one of `refused`. A browser
 * remembers a Basic password once asked for it and sends it along with requests any page makes it send, so the
 * credential alone does not show the user meant the request. Absent (curl, Spring clients, older browsers) or `none`
 * (typed by the user) passes.
 */
export function refuseSites(c: Context, refused: readonly ('cross-site' | 'same-site')[], what: string): void {
  const site = c.req.header('sec-fetch-site')?.trim().toLowerCase();
  if (site !== undefined && (refused as readonly string[]).includes(site)) {
    throw new ConfigServerError(
      'cross_site',
      `a request a browser sends for a page of another site (Sec-Fetch-Site: ${site}) may not ${what}`,
    );
  }
}

/**
 * Refuses a body that is not `application/json`: a page of another origin can send text/plain or a form without
 * asking, but JSON only after a CORS preflight, which this server never grants.
 */
export function requireJson(c: Context): void {
  const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ConfigServerError(
      'unsupported_media_type',
      `Unsupported Media Type: send the body as Content-Type: application/json (got ${type === '' ? 'none' : type})`,
    );
  }
}
