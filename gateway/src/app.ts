// The gateway's own endpoints, on the kit's hono app beside /actuator/health and /actuator/info.
// Proxied traffic never reaches hono: the proxy intercepts every request first and hands only /actuator/* back.
import type { IncomingMessage } from 'node:http';
import {
  CredentialLimiter,
  credentialChallenge,
  presentedName,
  presents,
  sourceAddress,
  type Credential,
  type KitEnv,
  type TrustedProxies,
} from '@trellis/kit';
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { GatewayError } from './errors.ts';
import type { RouteManager } from './routing/manager.ts';
import { gatewayRoutes } from './routes/gateway-routes.ts';

export interface AppDeps {
  readonly manager: RouteManager;
  /** The route management API's credential (--admin-auth); undefined leaves the API out (404), as Spring does. */
  readonly adminAuth: Credential | undefined;
  /** Most routes the API lets the table grow to (--max-routes). */
  readonly maxRoutes: number;
  /** Worker processes of this gateway (--workers); see GatewayRoutesDeps. */
  readonly workers?: number | undefined;
  readonly refreshed?: (() => void) | undefined;
  /** Peers whose X-Forwarded-For names the caller: the source the failed-credential limiter counts by. */
  readonly trustedProxies?: TrustedProxies | undefined;
}

export const ADMIN_REALM = 'trellis-gateway';

/**
 * The one name the limiter counts guesses under: there is one credential, so a guesser who varies the Basic user is
 * still guessing the same secret.
 */
const ADMIN_NAME = 'admin';

/** Sec-Fetch-Site values of a request a page of another site made the browser send. */
const CROSS_SITE = new Set(['cross-site', 'same-site']);

export function createApp(deps: AppDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  const credential = deps.adminAuth;
  // Not exposed at all without a credential: the API hands out the edge (a route to a listener of the caller's
  // receives every matching request, Authorization headers included), and loopback is no proof of the operator: in
  // the landscape every caller of 8080 is one, and so is any process on the host.
  if (credential === undefined) return app;
  const challenge = { 'www-authenticate': credentialChallenge(credential, ADMIN_REALM) };
  // Unlimited guesses would find a short secret at thousands a second on one connection. Per worker (--workers):
  // a connection stays with one worker, and a source's lockout there doubles with every failure after it.
  const limiter = new CredentialLimiter();
  /**
   * Every method needs the credential: route URIs, filters and metadata show the internals behind the edge. A browser
   * that once got the credential sends it again on its own, so changes made from another site's page are refused.
   * A source locked out after wrong credentials gets 429 before the credential is looked at, so a right guess made
   * then tells it nothing.
   */
  const authorize = (c: Context<KitEnv>): Promise<void> => {
    const authorization = c.req.header('authorization');
    const name = presentedName(authorization);
    // No credential is no guess: clients commonly ask once without one and answer the challenge.
    const source = name === undefined ? undefined : sourceOf(c, deps.trustedProxies);
    const wait = source === undefined ? undefined : limiter.retryAfter(source, ADMIN_NAME);
    if (wait !== undefined) {
      throw new GatewayError(
        'too_many_requests',
        `too many failed credentials from this address; try again in ${wait} s`,
        {
          headers: { 'retry-after': String(wait) },
        },
      );
    }
    const right = presents(credential, authorization);
    if (source !== undefined) {
      if (right) limiter.succeeded(source, ADMIN_NAME);
      else limiter.failed(source, ADMIN_NAME);
    }
    if (!right) {
      throw new GatewayError('unauthorized', 'the route management API needs the --admin-auth credential', {
        headers: challenge,
      });
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const origin = c.req.header('origin');
      const site = c.req.header('sec-fetch-site');
      if ((site !== undefined && CROSS_SITE.has(site)) || (origin !== undefined && !sameOrigin(origin, c))) {
        throw new GatewayError('forbidden', 'changes to routes are refused from a page of another site');
      }
    }
    return Promise.resolve();
  };
  app.route(
    '/actuator/gateway',
    gatewayRoutes({
      manager: deps.manager,
      authorize,
      maxRoutes: deps.maxRoutes,
      workers: deps.workers,
      refreshed: deps.refreshed,
    }),
  );
  return app;
}

/**
 * The caller's address: the socket's peer, or the client a trusted proxy names (the limiter reduces it: loopback as
 * one, IPv6 per /64); `unknown` without a socket (app.request in tests).
 */
function sourceOf(c: Context<KitEnv>, proxies: TrustedProxies | undefined): string {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming === undefined ? 'unknown' : sourceAddress(incoming, proxies);
}

/** Whether an Origin header names the host the request was sent to (`null` and unparsable origins do not). */
function sameOrigin(origin: string, c: Context<KitEnv>): boolean {
  if (!URL.canParse(origin)) return false;
  const host = c.req.header('host');
  return host !== undefined && new URL(origin).host === host.toLowerCase();
}

/**
 * The kit service's renderer for GatewayErrors thrown by the gateway's own endpoints: the code, a reason the caller
 * can act on, and the error's headers (the challenge of a refused management call). Other errors fall through
 * to the kit's (500 `server_error`, detail in the log).
 */
export function renderError(err: unknown, c: Context<KitEnv>): Response | undefined {
  if (!(err instanceof GatewayError)) return undefined;
  if (err.status >= 500) c.var.log.warn({ code: err.code, err: err.cause }, err.message);
  return c.json({ error: err.code, message: err.message }, err.status as ContentfulStatusCode, { ...err.headers });
}

export { GatewayError };
