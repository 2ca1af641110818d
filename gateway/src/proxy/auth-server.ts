// Which upstreams are the auth server: the only ones given the gateway's proxy secret and the auth server's cookies.

// Every route is served on the gateway's one origin, so a browser sends the auth server's session cookies with every
// request through it, and the proxy secret lets whoever holds it claim any X-Forwarded-For to the auth server. Both
// go to the auth server only, decided per attempt on the upstream actually called (an lb:// route's chosen instance),
// never on the request path, which any route may share.
import type { IncomingHttpHeaders } from 'node:http';
import { PROXY_SECRET_HEADER } from '@trellis/kit';
import type { HeaderMap } from '../routing/exchange.ts';

/** oidc-provider's cookies (session, interaction, resume), each with its signature and legacy variants. */
const AUTH_SERVER_COOKIES: ReadonlySet<string> = new Set(
  ['_session', '_interaction', '_interaction_resume'].flatMap((name) => [
    name,
    `${name}.sig`,
    `${name}.legacy`,
    `${name}.legacy.sig`,
  ]),
);

/** Most cookie names learned from the auth server's Set-Cookie: it sets a handful; a bound keeps a bug from growing it. */
const MAX_LEARNED_COOKIES = 64;

/** The resolved upstream of one attempt. */
export interface UpstreamAddress {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
}

/** scheme://host:port with the port always written and IPv6 without brackets, so a URL and an instance compare. */
function addressKey(secure: boolean, host: string, port: number): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return `${secure ? 'https' : 'http'}://${bare.toLowerCase()}:${port}`;
}

function originKey(origin: string): string {
  const url = new URL(origin);
  const secure = url.protocol === 'https:';
  return addressKey(secure, url.hostname, url.port === '' ? (secure ? 443 : 80) : Number(url.port));
}

/** The name of one `name=value` pair of a Cookie header (RFC 6265 §5.4), as servers read it. */
function cookieName(pair: string): string {
  const eq = pair.indexOf('=');
  return (eq === -1 ? pair : pair.slice(0, eq)).trim();
}

export interface AuthServerUpstreamsOptions {
  /** Origins (`http://host:port`) of the auth server as the gateway reaches it. */
  readonly origins: readonly string[];
  /** Sent to them in PROXY_SECRET_HEADER; undefined: not sent. */
  readonly proxySecret: string | undefined;
}

/** The auth server's upstreams, and the headers each attempt sends: what is the auth server's goes to it alone. */
export class AuthServerUpstreams {
  readonly #keys: ReadonlySet<string>;
  readonly #proxySecret: string | undefined;
  /** oidc-provider's names, and any other the auth server set through this gateway. */
  readonly #cookies = new Set(AUTH_SERVER_COOKIES);

  constructor(options: AuthServerUpstreamsOptions) {
    this.#keys = new Set(options.origins.map(originKey));
    this.#proxySecret = options.proxySecret;
  }

  /** Whether `target` (after lb:// resolution) is one of the auth server's upstreams. */
  includes(target: UpstreamAddress): boolean {
    return this.#keys.size > 0 && this.#keys.has(addressKey(target.secure, target.host, target.port));
  }

  /**
   * The headers for one attempt at `target`: with the proxy secret for the auth server; for any other upstream without
   * it (a route filter may have set one) and without the auth server's cookies, the rest of Cookie kept. `headers` is
   * never changed (a retry may go elsewhere); it is returned itself when nothing differs.
   */
  headersFor(target: UpstreamAddress, headers: HeaderMap): HeaderMap {
    if (this.includes(target)) {
      return this.#proxySecret === undefined ? headers : { ...headers, [PROXY_SECRET_HEADER]: this.#proxySecret };
    }
    const cookie = headers.cookie;
    const kept = cookie === undefined ? undefined : this.#withoutAuthCookies(cookie);
    if (kept === cookie && headers[PROXY_SECRET_HEADER] === undefined) return headers;
    // Set to undefined rather than deleted, which would make the map a slow dictionary; undici skips undefined.
    return { ...headers, cookie: kept, [PROXY_SECRET_HEADER]: undefined };
  }

  /**
   * The Set-Cookie lines `target` may pass to the browser. The auth server's all, their names remembered to keep them
   * from other upstreams; any other upstream's without the auth server's names, which on the gateway's one origin would
   * replace the browser's session with one that upstream chose (session fixation). The same value when nothing is
   * dropped, undefined when every line is.
   */
  setCookieFrom<T extends string | string[]>(
    target: UpstreamAddress,
    setCookie: T | undefined,
  ): T | string[] | undefined {
    if (setCookie === undefined) return undefined;
    const lines: readonly string[] = Array.isArray(setCookie) ? setCookie : [setCookie];
    const named = (line: string): string => cookieName(line.split(';', 1)[0] ?? '');
    if (!this.includes(target)) {
      const kept = lines.filter((line) => !this.#cookies.has(named(line)));
      if (kept.length === lines.length) return setCookie;
      return kept.length === 0 ? undefined : kept;
    }
    for (const name of lines.map(named)) {
      if (
        name !== '' &&
        !this.#cookies.has(name) &&
        this.#cookies.size < AUTH_SERVER_COOKIES.size + MAX_LEARNED_COOKIES
      ) {
        this.#cookies.add(name);
      }
    }
    return setCookie;
  }

  /** The Cookie value without the auth server's pairs; the same value when it has none, undefined when only those. */
  /**
   * An answer's headers with its Set-Cookie settled by setCookieFrom: the same object when nothing changes (no
   * Set-Cookie, the usual case), else a copy without the auth server's cookies.
   */
  settle(headers: IncomingHttpHeaders, target: UpstreamAddress): IncomingHttpHeaders {
    const setCookie = headers['set-cookie'];
    const allowed = this.setCookieFrom(target, setCookie);
    if (allowed === setCookie) return headers;
    const { 'set-cookie': _dropped, ...rest } = headers;
    return allowed === undefined ? rest : { ...rest, 'set-cookie': allowed };
  }

  #withoutAuthCookies(cookie: string | string[]): string | string[] | undefined {
    const values = Array.isArray(cookie) ? cookie : [cookie];
    let dropped = false;
    const kept: string[] = [];
    for (const value of values) {
      for (const pair of value.split(';')) {
        if (this.#cookies.has(cookieName(pair))) dropped = true;
        else if (pair.trim() !== '') kept.push(pair.trim());
      }
    }
    if (!dropped) return cookie;
    return kept.length === 0 ? undefined : kept.join('; ');
  }
}
