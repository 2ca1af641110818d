// The auth server's HTTP app: the admin API, client registration, the sign-in pages and oidc-provider behind them.
import type { IncomingMessage } from 'node:http';
import type { Context, Hono, Next } from 'hono';
import type { KitEnv, Service, TrustedProxies } from '@trellis/kit';
import { providerPaths } from './api-docs.ts';
import type { SigningKeyInfo } from './crypto/signing-keys.ts';
import type { AuthServerMetrics } from './metrics.ts';
import { providerHandler, screenForwardedFor, tokenEndpointInterceptor, type ProviderHolder } from './oidc/mount.ts';
import { providerMetadataCheck } from './oidc/client-check.ts';
import { authorizationLimits, InteractionCap } from './oidc/authorization-limits.ts';
import {
  AUTHORIZATION_PATH,
  INTERACTION_PREFIX,
  PAR_PATH,
  PROVIDER_ROUTES,
  REGISTRATION_PATH,
} from './oidc/constants.ts';
import type { FailureThrottle } from './oidc/throttle.ts';
import { adminRoutes } from './routes/admin.ts';
import { interactionRoutes } from './routes/interaction.ts';
import { registrationRoutes } from './routes/registration.ts';
import type { AuthStore } from './data-dir.ts';
import { securePages } from './views/page-headers.ts';
import type { RegistrationPolicy } from './oauth-clients/registration-policy.ts';

export interface AppDeps {
  readonly service: Service;
  readonly store: AuthStore;
  readonly holder: ProviderHolder;
  readonly adminToken: string | undefined;
  /** Initial access token of dynamic registration; undefined turns it off. */
  readonly registrationToken: string | undefined;
  readonly registrationPolicy: RegistrationPolicy;
  readonly proxies: TrustedProxies | undefined;
  /**
   * What a trusted proxy must also send for its X-Forwarded-For to count (the gateway's GATEWAY_PROXY_SECRET); when
   * undefined the address alone decides.
   */
  readonly proxySecret?: string | undefined;
  /** The throttle key of the address a request came from (trusted proxies, with their secret). */
  readonly sourceOf: (req: IncomingMessage) => string;
  /** Interactions each source may start; a default one when undefined. */
  readonly interactionCap?: InteractionCap | undefined;
  /** Wrong admin and registration tokens per source address. */
  readonly tokenThrottle: FailureThrottle;
  /** Failed sign-ins on the login page, per username and source address. */
  readonly loginThrottle: FailureThrottle;
  /** Failed sign-ins on the login page per source address, whatever the username. */
  readonly loginSourceThrottle: FailureThrottle;
  readonly rotateKeys: () => Promise<SigningKeyInfo>;
  /** The server's own meters (main.ts makes them when metrics are on). */
  readonly metrics?: AuthServerMetrics | undefined;
}

/**
 * The auth server's HTTP app: the admin API, dynamic client registration (RFC 7591/7592), the login and consent
 * pages, and oidc-provider at its paths (discovery, JWKS, token, authorize, introspection, revocation, userinfo,
 * logout, device flow). No I/O here.
 */
export function createApp(deps: AppDeps): Hono<KitEnv> {
  const app = deps.service.app;
  deps.service.intercept(tokenEndpointInterceptor(deps.holder, PROVIDER_ROUTES.token, deps.proxies, deps.proxySecret));
  // Before any route: every HTML answer, from hono or from oidc-provider, gets the page headers (page-headers.ts).
  app.use((c, next) => {
    const env: Partial<KitEnv['Bindings']> | undefined = c.env;
    if (env?.outgoing !== undefined) securePages(env.outgoing);
    if (env?.incoming !== undefined) screenForwardedFor(env.incoming, deps.proxySecret);
    return next();
  });
  app.use(
    authorizationLimits({
      authorizePath: AUTHORIZATION_PATH,
      parPath: PAR_PATH,
      sourceOf: deps.sourceOf,
      cap: deps.interactionCap ?? new InteractionCap(),
    }),
  );
  const guard = { throttle: deps.tokenThrottle, sourceOf: deps.sourceOf };
  // Which database, never its password.
  deps.service.health.register('authStore', () => deps.store.health());
  app.route(
    '/admin',
    adminRoutes({
      clients: deps.store.clients,
      users: deps.store.users,
      adminToken: deps.adminToken,
      keys: deps.store.keys,
      rotateKeys: deps.rotateKeys,
      guard,
    }),
  );
  app.route(
    INTERACTION_PREFIX,
    interactionRoutes({
      holder: deps.holder,
      users: deps.store.users,
      csrfKey: deps.store.master.derive('csrf'),
      proxies: deps.proxies,
      throttle: deps.loginThrottle,
      sourceThrottle: deps.loginSourceThrottle,
      metrics: deps.metrics,
    }),
  );
  app.route(
    REGISTRATION_PATH,
    registrationRoutes({
      clients: deps.store.clients,
      initialAccessToken: deps.registrationToken,
      checkMetadata: providerMetadataCheck(deps.holder),
      issuer: () => deps.holder.current?.issuer ?? '',
      policy: deps.registrationPolicy,
      guard,
    }),
  );
  // oidc-provider serves exactly the operations of its document (api-docs.ts, made from the routes it is configured
  // with): a path it does not serve is the kit's 404, another method on one of its paths the kit's 405 with Allow,
  // both JSON, instead of Koa's plain-text 404.
  const provider = providerHandler(deps.holder, deps.proxies);
  for (const [path, item] of Object.entries(providerPaths())) {
    const route = path.replace(/\{([^}]+)\}/g, ':$1');
    // A CORS preflight (OPTIONS with Access-Control-Request-Method) is the provider's to answer, on the endpoints it
    // allows other origins; a bare OPTIONS is the kit's 405 like any method no operation has.
    app.use(route, (c: Context<KitEnv>, next: Next) =>
      c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined ? provider(c) : next(),
    );
    app.on(
      Object.keys(item).map((method) => method.toUpperCase()),
      route,
      provider,
    );
  }
  return app;
}
