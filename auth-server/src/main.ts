// Starts the auth server: config, stores, development clients, the provider and the HTTP app, and what it offers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import {
  broadcastToWorkers,
  createObservability,
  createService,
  defineComponent,
  lowerThreadPoolPriority,
  observabilityOf,
  onWorkerBroadcast,
  redactDatabaseUrl,
  type KitEnv,
  type Logger,
  type Running,
} from '@trellis/kit';
import type Provider from 'oidc-provider';
import { authServerApiDocs } from './api-docs.ts';
import { createApp } from './app.ts';
import { authServerSettings, checkConfig, type Config } from './config.ts';
import { authServerMetrics } from './metrics.ts';
import { ID_TOKEN_TTL, REGISTRATION_PATH } from './oidc/constants.ts';
import type { ResourceServer } from './oidc/provider.ts';
import { addressKey, sourceAddress } from './oidc/proxies.ts';
import { FailureThrottle, SIGN_IN_FAILURES_PER_SOURCE, USER_CODE_FAILURES_PER_SOURCE } from './oidc/throttle.ts';
import { seedDevClients } from './seed.ts';
import { backgroundJobLog } from './store/background-failures.ts';
import { startCleanup } from './store/oidc-storage.ts';
import { openAuthStore, type AuthStore } from './data-dir.ts';
import { accessTokenRecordStore, createAdapterClass } from './store/oidc-storage.ts';
import { isStoreUnavailable, RETRY_AFTER_SEC } from './store/unavailable.ts';
import type { SigningKeyInfo } from './crypto/signing-keys.ts';

/** The RFC 8707 indicator of the default API: the audience itself when it is an absolute URI. */
export function resourceIndicator(audience: string): string {
  return URL.canParse(audience) ? audience : `urn:trellis:resource:${audience}`;
}

/** Retired keys stay published until every token they could have signed has expired (plus clock skew). */
export function keyRetentionMs(config: Pick<Config, 'accessTokenTtl'>): number {
  return (Math.max(config.accessTokenTtl, ID_TOKEN_TTL) + 60) * 1000;
}

/** How often an instance re-reads the signing keys besides being told (NOTIFY) of a rotation: the safety net. */
export const KEY_RECHECK_MS = 30_000;

/** What a worker (--workers) that rotated the keys tells the others, which read them again. */
const SIGNING_KEYS_TOPIC = 'auth-server:signing-keys';

async function privateJwks(store: AuthStore) {
  // A key sealed under another key-encryption key is a StartupError saying where the keys are (signing-keys.ts).
  return store.keys.privateJwks();
}

/** The admin API's and the sign-in pages' answer while the database is unreachable: 503, the reason, no detail. */
function renderUnavailable(err: unknown, c: Context<KitEnv>): Response | undefined {
  if (!isStoreUnavailable(err)) return undefined;
  c.header('retry-after', String(RETRY_AFTER_SEC));
  return c.json({ error: err.error, message: err.error_description }, 503);
}

/** The signing keys as a provider is built with them: a change means another instance rotated. */
const keysVersion = (keys: readonly SigningKeyInfo[]): string =>
  keys.map((k) => `${k.kid}:${k.retiredAt ?? ''}`).join(',');

async function start(config: Config, logger: Logger): Promise<Running> {
  // Token signatures (node:crypto's one-shot sign, local-signing-key.ts) and password hashes run on the libuv pool;
  // the event loop that parses the requests feeding them must not wait behind them for a core (kit/src/thread-pool.ts).
  const lowered = await lowerThreadPoolPriority();
  logger.debug({ threads: lowered }, 'thread pool priority lowered');
  const store = await openAuthStore({
    dataDir: config.dataDir,
    keyEncryptionKey: config.keyEncryptionKey,
    databaseUrl: config.databaseUrl,
    logger,
  });
  const stops: (() => void)[] = [];
  try {
    await store.keys.ensureCurrent(config.signingAlg);
    await store.keys.prune(keyRetentionMs(config));
    await privateJwks(store);
    // Logged as well as noted: with `trellis up`, a gateway that then cannot start would hide the summary's notes.
    if (config.devClientsNote !== undefined) logger.warn(config.devClientsNote);
    const seeded = config.seedDevClients
      ? await seedDevClients(store)
      : {
          notes: config.devClientsNote === undefined ? [] : [config.devClientsNote],
          exports: {},
          developmentClients: [],
        };
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
      renderError: renderUnavailable,
      apiDocs: config.apiDocs ? authServerApiDocs() : undefined,
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
    // Counted in the store too, so the limits hold across instances and workers (README: at most 10 guesses).
    const shared = (name: string) => ({ counts: store.failureCounts, name });
    // The first lockout (README: 30 s, doubling with each further failure up to 15 minutes).
    const lockout = { lockoutMs: config.credentialLockout * 1000 };
    const throttle = new FailureThrottle({
      ...lockout,
      shared: shared('client-secret'),
    });
    const userCodeThrottle = new FailureThrottle({
      ...lockout,
      maxFailures: USER_CODE_FAILURES_PER_SOURCE,
      successClears: false,
      shared: shared('user-code'),
    });
    const accessTokenRecords = accessTokenRecordStore(store.storage);
    const sourceOf = (req: IncomingMessage): string => addressKey(sourceAddress(req, config.proxies));
    // Loaded only when the server starts, not when the CLI merely lists components or manages clients.
    const { createProvider, replayedGrant, invalidInput } = await import('./oidc/provider.ts');
    let issuer = config.issuer ?? '';
    let builtWith: string | undefined;
    const build = async (): Promise<readonly SigningKeyInfo[]> => {
      const keys = await store.keys.list();
      const jwks = await privateJwks(store);
      const provider = createProvider({
        issuer,
        adapter: createAdapterClass(store.storage, store.clients, replayedGrant, invalidInput),
        jwks,
        cookieKeys: [store.master.derive('cookies').toString('base64url')],
        resource,
        signingAlg: config.signingAlg,
        accessTokenTtl: config.accessTokenTtl,
        refreshTokenTtl: config.refreshTokenTtl,
        findAccount: async (id) => {
          const user = await store.users.find(id);
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
        unknownKey: followKeysSoon,
      });
      holder.current = provider;
      holder.callback = provider.callback();
      builtWith = keysVersion(keys);
      return keys;
    };
    // One build at a time, in order: a rotation here and a notification of another's must not swap in older keys.
    let building: Promise<void> = Promise.resolve();
    const rebuild = (): Promise<void> =>
      (building = building
        .catch(() => undefined)
        .then(build)
        .then(() => undefined));
    // Every KEY_RECHECK_MS while the database is down: one line when the outage begins and one when it ends.
    const keyRecheckLog = backgroundJobLog(logger, 'signing key re-read', 'warn');
    /** Builds a new provider when the keys differ from the ones the current one was built with. */
    const followKeys = (): void => {
      if (holder.current === undefined) return;
      void (building = building
        .catch(() => undefined)
        .then(async () => {
          if (keysVersion(await store.keys.list()) !== builtWith) {
            const keys = await build();
            logger.info({ kid: keys[0]?.kid }, 'signing keys reloaded (rotated elsewhere)');
          }
          keyRecheckLog.succeeded();
        })
        .catch((err: unknown) => keyRecheckLog.failed(err)));
    };
    // A token naming a key we do not hold (rotated elsewhere, before the notification) makes us look, at most once a
    // second: forged kids must not turn every request into a database read.
    let lastLook = 0;
    function followKeysSoon(): void {
      const now = Date.now();
      if (now - lastLook < 1000) return;
      lastLook = now;
      followKeys();
    }
    stops.push(store.onKeysChanged(followKeys));
    // With --workers, a rotation in one worker reaches the others through the primary: SQLite has no NOTIFY.
    stops.push(onWorkerBroadcast(SIGNING_KEYS_TOPIC, followKeys));
    const recheck = setInterval(followKeys, KEY_RECHECK_MS);
    recheck.unref();
    stops.push(() => clearInterval(recheck));
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
      tokenThrottle: new FailureThrottle({
        ...lockout,
        shared: shared('operator-token'),
      }),
      loginThrottle: new FailureThrottle({
        ...lockout,
        shared: shared('sign-in'),
      }),
      loginSourceThrottle: new FailureThrottle({
        ...lockout,
        maxFailures: SIGN_IN_FAILURES_PER_SOURCE,
        successClears: false,
        shared: shared('sign-in-source'),
      }),
      metrics,
      rotateKeys: async () => {
        const key = await store.keys.rotate(config.signingAlg);
        await store.keys.prune(keyRetentionMs(config));
        await rebuild();
        broadcastToWorkers(SIGNING_KEYS_TOPIC);
        logger.info({ kid: key.kid }, 'signing key rotated');
        return key;
      },
    });
    const stopCleanup = startCleanup(
      store.storage,
      config.cleanupInterval * 1000,
      backgroundJobLog(logger, 'expired token clean-up', 'error'),
    );
    service.onShutdown('auth store', async () => {
      stopCleanup();
      for (const stop of stops) stop();
      await store.close();
    });
    const endpoint = await service.listen({
      port: config.port,
      ...(config.host === undefined ? {} : { host: config.host }),
      setting: '--port (AUTH_SERVER_PORT)',
    });
    // The issuer must be known before the provider exists; with port 0 it is only known now.
    issuer ||= `http://localhost:${endpoint.port}`;
    await rebuild();
    notes.unshift(`auth-server: issuer ${issuer}, tokens for ${config.resource} (${config.signingAlg})`);
    if (config.databaseUrl !== undefined && config.databaseUrl !== '') {
      // Which database, never its password.
      notes.splice(1, 0, `auth-server: state in PostgreSQL ${redactDatabaseUrl(config.databaseUrl)}`);
    }
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
    for (const stop of stops) stop();
    await store.close();
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
