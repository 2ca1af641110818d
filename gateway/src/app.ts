// The gateway's own endpoints, on the kit's hono app beside /actuator/health and /actuator/info. Proxied traffic
// never reaches hono: the node-level listener in main.ts sends only /actuator/* here.
import type { KitEnv, TokenVerifier } from '@trellis/clients';
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { GatewayError } from './errors.ts';
import { checkToken } from './proxy/token.ts';
import type { RouteManager } from './routing/manager.ts';
import { gatewayRoutes, isLoopback } from './routes/gateway-routes.ts';

export interface AppDeps {
  readonly manager: RouteManager;
  readonly verifier: TokenVerifier | undefined;
}

export const ADMIN_SCOPE = 'gateway:admin';

/** Headers a proxy in front adds for the client it relays: such a request is not the local operator's. */
const RELAY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const;

export function createApp(deps: AppDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  /**
   * Who may read and change routes: a caller on this machine (a loopback connection that relays nobody, so a reverse
   * proxy on the same host does not hand its clients the operator's rights), or anyone with a token of the
   * `gateway:admin` scope. Throws 401 without a valid token, 403 with one lacking the scope or without --issuer.
   */
  const authorize = async (c: Context<KitEnv>): Promise<void> => {
    const env = c.env as Partial<KitEnv['Bindings']> | undefined;
    const relayed = RELAY_HEADERS.some((h) => c.req.header(h) !== undefined);
    if (isLoopback(env?.incoming?.socket.remoteAddress) && !relayed) return;
    if (deps.verifier === undefined) {
      throw new GatewayError(
        'forbidden',
        'managing routes needs a loopback connection, or a token with the gateway:admin scope (start the gateway with --issuer)',
      );
    }
    await checkToken(deps.verifier, c.req.header('authorization'), [ADMIN_SCOPE], 'actuator/gateway');
  };
  app.route('/actuator/gateway', gatewayRoutes({ manager: deps.manager, authorize }));
  return app;
}

/**
 * The kit service's renderer for GatewayErrors thrown by the gateway's own endpoints: the code, a reason the caller
 * can act on, and the error's headers (the Bearer challenge of a refused management call). Other errors fall through
 * to the kit's (500 `server_error`, detail in the log).
 */
export function renderError(err: unknown, c: Context<KitEnv>): Response | undefined {
  if (!(err instanceof GatewayError)) return undefined;
  if (err.status >= 500) c.var.log.warn({ code: err.code, err: err.cause }, err.message);
  return c.json({ error: err.code, message: err.message }, err.status as ContentfulStatusCode, { ...err.headers });
}

export { GatewayError };
