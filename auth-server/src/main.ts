// Starts the auth server: config, stores, development clients, the provider and the HTTP app, and what it offers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createObservability,
  createService,
  defineComponent,
  observabilityOf,
  StartupError,
  type Logger,
  type Running,
} from '@trellis/kit';
import type Provider from 'oidc-provider';
import { createApp } from './app.ts';
import { authServerSettings, checkConfig, type Config } from './config.ts';
import { authServerMetrics } from './metrics.ts';
import { ID_TOKEN_TTL, REGISTRATION_PATH } from './oidc/constants.ts';
import type { ResourceServer } from './oidc/provider.ts';
import { addressKey, sourceAddress } from './oidc/proxies.ts';
import { FailureThrottle, SIGN_IN_FAILURES_PER_SOURCE, USER_CODE_FAILURES_PER_SOURCE } from './oidc/throttle.ts';
import { seedDevClients } from './seed.ts';
import { startCleanup } from './store/oidc-storage.ts';
import { openAuthStore, type AuthStore } from './data-dir.ts';
import { accessTokenRecordStore, createAdapterClass } from './store/oidc-storage.ts';

/** The RFC 8707 indicator of the default API: the audience itself when it is an absolute URI. */
export function resourceIndicator(audience: string): string {
  return URL.canParse(audience) ? audience : `urn:trellis:resource:${audience}`;
}

/** Retired keys stay published until every token they could have signed has expired (plus clock skew). */
export function keyRetentionMs(config: Pick<Config, 'accessTokenTtl'>): number {
  return (Math.max(config.accessTokenTtl, ID_TOKEN_TTL) + 60) * 1000;
}

function privateJwks(store: AuthStore) {
  try {
    return store.keys.privateJwks();
  } catch {
    throw new StartupError(
      'the signing keys in the data dir cannot be decrypted: the key encryption key (AUTH_KEY_ENCRYPTION_KEY or auth-master.key) is not the one they were stored with',
    );
  }
}

async function start(config: Config, logger: Logger): Promise<Running> {
  const store = openAuthStore({ dataDir: config.dataDir, keyEncryptionKey: config.keyEncryptionKey });
  try {
    store.keys.ensureCurrent(config.signingAlg);
    store.keys.prune(keyRetentionMs(config));
    privateJwks(store);
    const seeded = config.seedDevClients ? seedDevClients(store) : { notes: [], exports: {}, developmentClients: [] };
    const { notes } = seeded;
    // RFC 7662 §4: only designated resource servers learn about other clients' tokens. The seeded gateway client is
    // one only while it still has its seeded secret (a client of that id made or re-keyed by an admin is not).
    const introspectors = new Set(config.introspectionClients);
    if (seeded.exports.GATEWAY_INTROSPECTION_CLIENT_ID !== undefined) {
      introspectors.add(seeded.exports.GATEWAY_INTROSPECTION_CLIENT_ID);
    }
    const adminToken =
      config.adminToken ?? (config.production ? undefined : store.master.derive('admin-token').toString('base64url'));

    const service = createService({
      name: 'auth-server',
      logger,
      allowedHosts: config.allowedHosts,
      healthShowDetails: config.healthShowDetails,
      observability: await createObservability('auth-server', observabilityOf(config), logger),
    });
    // Made once: a key rotation builds a new provider, which listens with the same meters.
    const metrics =
      service.observability.metrics === undefined ? undefined : authServerMetrics(service.observability.metrics);
    const holder: {
      current: Provider | undefined;
      callback: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
    } = { current: undefined, callback: undefined };
    const resource: ResourceServer = {
      indicator: resourceIndicator(config.resource),
      audience: config.resource,
      scopes: config.resourceScopes,
    };
    const throttle = new FailureThrottle();
    const userCodeThrottle = new FailureThrottle({ maxFailures: USER_CODE_FAILURES_PER_SOURCE, successClears: false });
    const accessTokenRecords = accessTokenRecordStore(store.storage);
    const sourceOf = (req: IncomingMessage): string => addressKey(sourceAddress(req, config.proxies));
    // Loaded only when the server starts, not when the CLI merely lists components or manages clients.
    const { createProvider } = await import('./oidc/provider.ts');
    let issuer = config.issuer ?? '';
    const build = (): void => {
      const provider = createProvider({
        issuer,
        adapter: createAdapterClass(store.storage, store.clients),
        jwks: privateJwks(store),
        cookieKeys: [store.master.derive('cookies').toString('base64url')],
        resource,
        signingAlg: config.signingAlg,
        accessTokenTtl: config.accessTokenTtl,
        refreshTokenTtl: config.refreshTokenTtl,
        findAccount: (id) => {
          const user = store.users.find(id);
          if (user === undefined) return undefined;
          return {
            accountId: user.username,
            claims: () => ({
              sub: user.username,
              preferred_username: user.username,
              ...(user.name === undefined ? {} : { name: user.name }),
              ...(user.email === undefined ? {} : { email: user.email }),
            }),
          };
        },
        verifyClientSecret: store.verifyClientSecret,
        accessTokenRecords,
        throttle,
        userCodeThrottle,
        sourceOf,
        mayIntrospectAny: (clientId) => introspectors.has(clientId),
        logger,
        registrationPath: config.registrationToken === undefined ? undefined : REGISTRATION_PATH,
        metrics,
      });
      holder.current = provider;
      holder.callback = provider.callback();
    };
    createApp({
      service,
      store,
      holder,
      adminToken,
      registrationToken: config.registrationToken,
      registrationPolicy: config.registrationPolicy,
      proxies: config.proxies,
      proxySecret: config.trustedProxySecret,
      sourceOf,
      loginThrottle: new FailureThrottle(),
      loginSourceThrottle: new FailureThrottle({ maxFailures: SIGN_IN_FAILURES_PER_SOURCE, successClears: false }),
      metrics,
      rotateKeys: () => {
        const key = store.keys.rotate(config.signingAlg);
        store.keys.prune(keyRetentionMs(config));
        build();
        logger.info({ kid: key.kid }, 'signing key rotated');
        return key;
      },
    });
    const stopCleanup = startCleanup(store.storage, config.cleanupInterval * 1000, (err) =>
      logger.error({ err }, 'expired token clean-up failed'),
    );
    service.onShutdown('auth store', () => {
      stopCleanup();
      store.close();
    });
    const endpoint = await service.listen({
      port: config.port,
      ...(config.host === undefined ? {} : { host: config.host }),
      setting: '--port (AUTH_SERVER_PORT)',
    });
    // The issuer must be known before the provider exists; with port 0 it is only known now.
    issuer ||= `http://localhost:${endpoint.port}`;
    build();
    notes.unshift(`auth-server: issuer ${issuer}, tokens for ${config.resource} (${config.signingAlg})`);
    if (config.adminToken === undefined && adminToken !== undefined) {
      notes.push(`auth-server: admin API ${endpoint.url}/admin/clients with Bearer ${adminToken} (development)`);
    }
    if (config.registrationToken !== undefined) {
      notes.push(
        `auth-server: dynamic client registration at ${endpoint.url}${REGISTRATION_PATH} (AUTH_REGISTRATION_TOKEN)`,
      );
    }
    return {
      name: 'auth-server',
      endpoints: service.endpoints,
      notes,
      exports: seeded.exports,
      offers: { authorizationServer: endpoint.url, developmentClients: seeded.developmentClients },
      stop: () => service.stop(),
    };
  } catch (err) {
    store.close();
    throw err;
  }
}

/**
 * The OAuth 2.0 / OpenID Connect authorization server as a landscape component (`trellis auth-server`, or part of
 * `trellis up`).
 *
 * @example
 * const running = await authServerComponent.start(loadSettings(authServerComponent.settings, { env }), { logger, env });
 */
export const authServerComponent = defineComponent({
  name: 'auth-server',
  summary: 'OAuth 2.0 / OpenID Connect authorization server on oidc-provider (port 9999)',
  settings: authServerSettings(),
  start: (settings, context) => start(checkConfig(settings, context.env), context.logger),
});
