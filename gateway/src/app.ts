// The gateway's own endpoints, on the kit's hono app beside /actuator/health and /actuator/info. Proxied traffic
// never reaches hono: the node-level listener in main.ts sends only /actuator/* here.
import type { KitEnv, TokenVerifier } from '@trellis/clients';
import { Hono, type Context } from 'hono';
import { GatewayError } from './errors.ts';
import type { RouteManager } from './routing/manager.ts';
import { gatewayRoutes, isLoopback } from './routes/gateway-routes.ts';

export interface AppDeps {
  readonly manager: RouteManager;
  readonly verifier: TokenVerifier | undefined;
}

export const ADMIN_SCOPE = 'gateway:admin';

export function createApp(deps: AppDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  const mayManage = async (c: Context<KitEnv>): Promise<boolean> => {
    const env = c.env as Partial<KitEnv['Bindings']> | undefined;
    if (isLoopback(env?.incoming?.socket.remoteAddress)) return true;
    const header = c.req.header('authorization');
    if (deps.verifier === undefined || header === undefined || !/^bearer /i.test(header)) return false;
    try {
      return (await deps.verifier.verify(header.slice(7).trim())).scopes.has(ADMIN_SCOPE);
    } catch {
      return false;
    }
  };
  app.route('/actuator/gateway', gatewayRoutes({ manager: deps.manager, mayManage }));
  return app;
}

export { GatewayError };
