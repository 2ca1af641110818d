// The security headers of every HTML answer, and the CSP that lets only oidc-provider's own scripts run.
import type { ServerResponse } from 'node:http';
import { PAGE_CSP, PAGE_HEADERS } from './page-templates.ts';

/** A script-src of inline script hashes only, as oidc-provider writes it for the scripts of its own pages. */
const HASHES_ONLY = /(?:^|;)\s*script-src((?:\s+'sha256-[A-Za-z0-9+/]+={0,2}')+)\s*(?:;|$)/;

/**
 * What a provider request starts with: a CSP whose script-src allows nothing. oidc-provider adds the hash of each
 * inline script it writes to an existing script-src (helpers/script_src_sha.js); its form_post page (response_mode=
 * form_post) needs its one auto-submit script, and only that one is then allowed.
 */
export const SCRIPT_HASH_COLLECTOR = `${PAGE_CSP}; script-src`;

function isHtml(type: unknown): boolean {
  return typeof type === 'string' && /^\s*text\/html\b/i.test(type);
}

function contentTypeIn(headers: unknown): unknown {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return undefined;
  const entry = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type');
  return entry?.[1];
}

/**
 * Gives the response the page headers if it turns out to be HTML, whoever writes it: the login and consent routes
 * (hono), oidc-provider's error page (renderError), its logout, device and form_post pages, the "Redirecting to"
 * body Koa gives a redirect a browser follows. One place, at the last moment the headers can change (writeHead, which
 * node calls for an implicit header too), so a page added later, or written by a library, cannot miss them. They
 * replace what the writer set; JSON and other answers keep their own (discovery and JWKS stay cacheable).
 */
export function securePages(res: ServerResponse): void {
  // Node's own, on this response (the wrapper below is an own property that shadows it).
  const writeHead = res.writeHead.bind(res) as (status: number, ...rest: unknown[]) => ServerResponse;
  res.writeHead = function pageWriteHead(this: ServerResponse, status: number, ...rest: unknown[]): ServerResponse {
    const at = typeof rest[0] === 'string' ? 1 : 0;
    const given = rest[at];
    const type = contentTypeIn(given) ?? this.getHeader('content-type');
    if (!isHtml(type)) {
      // The collector's bare CSP means nothing on JSON; it is left out rather than sent.
      if (this.getHeader('content-security-policy') === SCRIPT_HASH_COLLECTOR) {
        this.removeHeader('content-security-policy');
      }
      return writeHead(status, ...rest);
    }
    const hashes = HASHES_ONLY.exec(String(this.getHeader('content-security-policy') ?? ''))?.[1];
    const page = {
      ...PAGE_HEADERS,
      'content-security-policy': hashes === undefined ? PAGE_CSP : `${PAGE_CSP}; script-src${hashes}`,
    };
    for (const [name, value] of Object.entries(page)) this.setHeader(name, value);
    if (typeof given === 'object' && given !== null && !Array.isArray(given)) {
      // Headers passed here would be applied after ours: drop the writer's spelling of the same names.
      const kept = Object.fromEntries(Object.entries(given).filter(([k]) => !(k.toLowerCase() in page)));
      rest[at] = kept;
    }
    return writeHead(status, ...rest);
  };
}
