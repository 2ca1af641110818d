// How every example service starts, in Spring's order.
// Fetch the configuration over HTTPS (trusting the local CA, fail-fast with retry), build the routes, bind the port,
// register with the registry; stop reverses it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { configHealthIndicator, createConfigClient, STARTUP_RETRY, type ConfigClient } from '@trellis/clients/config';
import {
  createObservability,
  createService,
  StartupError,
  type Logger,
  type Offers,
  type Running,
  type Service,
  type ServiceOptions,
  observabilityOf,
  withObservability,
} from '@trellis/kit';
import { registerService, type DiscoveryClient } from '@trellis/clients/discovery';
import type { ExampleSettings } from './settings.ts';

export interface ExampleContext<S extends ExampleSettings> {
  readonly name: string;
  readonly settings: S;
  readonly service: Service;
  readonly config: ConfigClient;
  readonly log: Logger;
  /** Where the registry is: the setting, else `eureka.client.serviceUrl.defaultZone` from the configuration. */
  readonly registryUrl: string;
  /** `host:port` of this instance as registered, what responses report as their serviceAddress. */
  readonly serviceAddress: () => string;
}

export interface ExampleParts {
  /** A discovery client the service uses, reported in its `discovery` health component. */
  readonly discovery?: DiscoveryClient;
  /** Runs after the service is registered (consumers start taking events once the instance is known). */
  readonly afterRegister?: () => Promise<void>;
  readonly notes?: readonly string[];
  /** The roles this service takes in the landscape, given the URL it listens on (see Running.offers). */
  readonly offers?: (url: string) => Offers;
}

/** The default registry when neither the setting nor the configuration names one. */
const DEFAULT_REGISTRY = 'http://localhost:8761/eureka/';

async function loadConfig(name: string, settings: ExampleSettings, log: Logger): Promise<ConfigClient> {
  const caFile = settings.caFile ?? join(settings.dataDir, 'tls', 'ca.pem');
  const secure = settings.configUri.startsWith('https:');
  if (secure && !existsSync(caFile)) {
    throw new StartupError(`${name}: the CA file ${caFile} does not exist; set --ca-file (TRELLIS_CA_FILE)`);
  }
  try {
    return await createConfigClient({
      uri: settings.configUri,
      name,
      profiles: settings.profiles,
      ...(secure ? { caFile } : {}),
      // The config server starts first in `trellis up`; in containers it may still be starting, hence the retry.
      retry: STARTUP_RETRY,
      logger: log,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    // The setting, not its value: the URI may carry the config credential. The reason names the server without it.
    throw new StartupError(
      `${name}: cannot load its configuration from --config-uri (SPRING_CLOUD_CONFIG_URI): ${reason}`,
    );
  }
}

/**
 * Starts an example service: configuration first (the `{cipher}` secret must decrypt), then `build` adds routes and
 * resources, then listen and register. Anything that fails undoes what was done.
 *
 * @example
 * return startExample('product', settings, context.logger, async (ctx) => { ctx.service.app.get('/product/:id', …); return {}; });
 */
export async function startExample<S extends ExampleSettings>(
  name: string,
  settings: S,
  logger: Logger,
  build: (ctx: ExampleContext<S>) => Promise<ExampleParts>,
  options: Pick<ServiceOptions, 'renderError'> = {},
): Promise<Running> {
  const log = logger.child({ service: name });
  const observability = await createObservability(name, observabilityOf(settings), log);
  // Made before the service, so the configuration fetch is traced and timed as this service's.
  const config = await withObservability(observability, () => loadConfig(name, settings, log)).catch(
    async (err: unknown) => {
      await observability.tracing?.shutdown();
      throw err;
    },
  );
  const undecryptable = config.status().undecryptable;
  if (undecryptable.length > 0) {
    await config.close();
    await observability.tracing?.shutdown();
    throw new StartupError(
      `${name}: the config server could not decrypt ${undecryptable.join(', ')}; start it with the ENCRYPT_KEY the values were made with`,
    );
  }
  const hostName = settings.preferIpAddress ? undefined : (settings.instanceHostname ?? 'localhost');
  const service = createService({
    name,
    description: `Trellis example service ${name}`,
    logger: log,
    allowedHosts: settings.allowedHosts,
    healthShowDetails: settings.healthShowDetails,
    observability,
    ...options,
    // The secret's presence, never its value: shows the {cipher} property reached the service.
    info: { config: { secretLoaded: config.has('app.secret') } },
  });
  service.onShutdown('config client', () => config.close());
  service.health.register('config', configHealthIndicator(config));
  let address = '';
  const registryUrl =
    settings.registryUrl ?? config.getString('eureka.client.serviceUrl.defaultZone', DEFAULT_REGISTRY);
  try {
    // Clients made while building (discovery, tokens, binders) record into this service's meters and spans.
    const parts = await service.inScope(() =>
      build({ name, settings, service, config, log, registryUrl, serviceAddress: () => address }),
    );
    const endpoint = await service.listen({
      port: settings.port,
      ...(settings.host === undefined ? {} : { host: settings.host }),
      setting: `--port of ${name}`,
    });
    const registration = service.inScope(() =>
      registerService(service, {
        registryUrl,
        ...(hostName === undefined ? { preferIpAddress: true } : { hostName }),
        ...(parts.discovery === undefined ? {} : { discovery: parts.discovery }),
      }),
    );
    address = registration.instanceId.split(':').slice(0, 1).concat(String(endpoint.port)).join(':');
    await service.inScope(async () => parts.afterRegister?.());
    return {
      name,
      endpoints: service.endpoints,
      ...(parts.notes === undefined ? {} : { notes: parts.notes }),
      ...(parts.offers === undefined ? {} : { offers: parts.offers(endpoint.url) }),
      stop: () => service.stop(),
    };
  } catch (err) {
    await service.stop();
    throw err;
  }
}

/** Waits `ms`, or less when `signal` aborts (shutdown must not wait for a demo delay). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
