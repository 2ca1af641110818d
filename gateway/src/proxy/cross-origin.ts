// The CORS step: which policy a cross-origin request falls under, its preflight answered here, its origin checked.
import type http from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors.ts';
import { originAllowed, preflight, type CorsPolicy } from '../routing/cors.ts';
import type { Match, RouteTable } from '../routing/table.ts';
import type { CorsGrant } from './forwarding.ts';

/** What crossOrigin returns when it has answered the request (a preflight) itself. */
export const PREFLIGHT_ANSWERED = 'preflight answered';

/**
 * For a cross-origin request (an Origin other than the gateway's own): answers a preflight that a policy covers,
 * refuses an actual request from an origin its policy does not allow (403), and returns the policy the answer's
 * headers follow. undefined when no policy applies, and when no route matched (the caller answers 404).
 */
export function crossOrigin(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  secure: boolean,
  table: RouteTable,
  match: Match | undefined,
  path: string,
): CorsGrant | typeof PREFLIGHT_ANSWERED | undefined {
  const origin = req.headers.origin;
  if (origin === undefined || origin === `${secure ? 'https' : 'http'}://${req.headers.host ?? ''}`) return undefined;
  const isPreflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
  const global =
    table.globalCors.length === 0 ? undefined : table.globalCors.find((g) => g.pattern.match(path) !== undefined);
  // A preflight is the gateway's to answer under a global policy even where no route matches; an actual request
  // follows its route's policy first.
  const policy: CorsPolicy | undefined = isPreflight
    ? (global?.policy ?? match?.route.cors)
    : (match?.route.cors ?? global?.policy);
  if (policy === undefined) return undefined;
  if (isPreflight) {
    res.writeHead(200, preflight(policy, req.headers, match?.route.id) as OutgoingHttpHeaders).end();
    return PREFLIGHT_ANSWERED;
  }
  if (match === undefined) return undefined;
  if (!originAllowed(policy, origin)) {
    throw new GatewayError('forbidden', `origin ${origin} is not allowed by the CORS policy`, {
      route: match.route.id,
    });
  }
  return { policy, origin };
}
