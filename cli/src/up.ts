// `trellis up`: the whole landscape in one process.
// Components start in order; what each offers (registry URL, config server URL, issuer) is handed to the ones after
// it, so moving any port (or port 0) keeps the landscape wired. `--scale review=3` starts more instances of an example
// service on the next free ports, `--partitions 2` two of each core service (one per partition of its events), and
// `--binder kafka|rabbit|embedded` picks the event broker (a Kafka broker is started here when no URL is given).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  commonSettings,
  createLogger,
  isUserError,
  loadSettings,
  parseCredential,
  runUntilSignal,
  setting,
  splitFlags,
  StartupError,
  type Component,
  type DevelopmentClient,
  type Offers,
  type Running,
  type Settings,
  type SettingSpecs,
} from '@trellis/kit';
import { DESTINATIONS, DEV_ENCRYPT_KEY, partitionsEnv, SCALABLE } from '@trellis/examples';
import { binderSettings, chooseBinder, type ChosenBinder } from './binder-choice.ts';
import { landscapeTracing } from './landscape-tracing.ts';
import { loadAll, type CatalogueEntry } from './catalogue.ts';
import { landscapeEvents, type LandscapeEvents } from './landscape-events.ts';
import { ensureLocalCa } from './local-ca.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface UpIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly exit: (code: number) => void;
}

/** Where `trellis up` listens when `--host` / TRELLIS_HOST is not given. */
export const LANDSCAPE_HOST = '127.0.0.1';

/** The flags of `trellis up`: the shared ones, `--scale` and `--partitions`, and the event binder's. */
export function upSettings() {
  return {
    ...commonSettings(),
    scale: setting.list({
      flag: 'scale',
      env: 'TRELLIS_SCALE',
      help: `instances per service, e.g. review=3 (repeat the flag or separate with commas; ${[...SCALABLE].join(', ')})`,
    }),
    partitions: setting.integer({
      flag: 'partitions',
      env: 'TRELLIS_PARTITIONS',
      min: 1,
      max: 16,
      help: `partitions of each event destination: that many instances of ${Object.keys(DESTINATIONS).join(', ')}, one per partition (--scale wins)`,
    }),
    ...binderSettings(),
    kafkaPort: setting.port({
      flag: 'kafka-port',
      env: 'TRELLIS_KAFKA_PORT',
      default: 9092,
      help: 'port of the Kafka broker started with --binder kafka and no --broker-url (9092: where Kafka tools look)',
    }),
    zipkinPort: setting.port({
      flag: 'zipkin-port',
      env: 'TRELLIS_ZIPKIN_PORT',
      default: 9411,
      help: "port of the Zipkin started with --tracing zipkin and Zipkin's default endpoint (9411: where its docs and Spring look)",
    }),
  };
}

type UpSettings = Settings<ReturnType<typeof upSettings>>;

/** The key of `trellis up`'s own flags beside the components' names. */
const UP = 'trellis up';

/** The command line split: `trellis up`'s own flags, and each component's. */
export interface LandscapeFlags {
  readonly up: readonly string[];
  readonly components: Readonly<Record<string, readonly string[]>>;
}

/**
 * Splits `trellis up`'s command line into its own flags and each component's own, those only that component declares
 * (`--no-seed-dev-clients`), which it reads over its variables. A flag several components declare (`--port`) is
 * refused: it could mean any of them.
 */
export function landscapeFlags(argv: readonly string[], components: readonly Component[]): LandscapeFlags {
  const { [UP]: up = [], ...rest } = splitFlags(joinScaleFlags(argv), landscapeFlagSets(components));
  return { up, components: rest };
}

/** The flags `trellis up` reads, by reader: its own, then each component's (less those `trellis up` declares). */
function landscapeFlagSets(components: readonly Component[]): Record<string, SettingSpecs> {
  const own = upSettings();
  const upFlags = new Set(Object.values(own).map((spec) => spec.flag));
  const componentOwn = (specs: SettingSpecs): SettingSpecs =>
    Object.fromEntries(Object.entries(specs).filter(([, spec]) => !upFlags.has(spec.flag)));
  return { [UP]: own, ...Object.fromEntries(components.map((c) => [c.name, componentOwn(c.settings)])) };
}

/** Every flag `trellis up` takes, as one set: those several components declare are left out, as it refuses them. */
export function landscapeFlagSpecs(components: readonly Component[]): SettingSpecs {
  const specs = Object.values(landscapeFlagSets(components)).flatMap((set) => Object.values(set));
  const declarations = new Map<string | undefined, number>();
  for (const spec of specs) declarations.set(spec.flag, (declarations.get(spec.flag) ?? 0) + 1);
  return Object.fromEntries(
    specs.flatMap((spec) => (spec.flag !== undefined && declarations.get(spec.flag) === 1 ? [[spec.flag, spec]] : [])),
  );
}

/** `--scale a=1 --scale b=2` → `--scale a=1,b=2`: a repeated flag otherwise keeps only its last value. */
export function joinScaleFlags(argv: readonly string[]): string[] {
  const rest: string[] = [];
  const scales: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--scale' && i + 1 < argv.length) scales.push(argv[++i] ?? '');
    else if (arg.startsWith('--scale=')) scales.push(arg.slice('--scale='.length));
    else rest.push(arg);
  }
  return scales.length === 0 ? rest : [...rest, '--scale', scales.join(',')];
}

/** `['review=3']` → `{ review: 3 }`, refusing unknown or unscalable services with a message naming the flag. */
export function parseScale(
  entries: readonly string[],
  components: readonly Pick<Component, 'name'>[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of entries) {
    const match = /^([a-z][\w-]*)=(\d{1,2})$/.exec(entry);
    if (match === null)
      throw new StartupError(`invalid --scale ${JSON.stringify(entry)}: use service=count, e.g. review=3`);
    const [, name = '', count] = match;
    if (!components.some((c) => c.name === name) || !SCALABLE.has(name)) {
      throw new StartupError(`--scale: ${name} cannot be scaled; scalable services: ${[...SCALABLE].join(', ')}`);
    }
    const n = Number(count);
    if (n < 1) throw new StartupError(`--scale ${name}=${n}: at least one instance`);
    out[name] = n;
  }
  return out;
}

/** `--partitions n`: n instances of each core service present, one per partition of its destination. */
export function partitionScale(
  partitions: number | undefined,
  components: readonly Pick<Component, 'name'>[],
): Record<string, number> {
  if (partitions === undefined || partitions === 1) return {};
  const core = new Set(Object.keys(DESTINATIONS));
  return Object.fromEntries(components.filter((c) => core.has(c.name)).map((c) => [c.name, partitions]));
}

/** The config server credential `trellis up` makes for its services when none is configured. */
export interface ConfigCredential {
  readonly id: string;
  readonly secret: string;
}

/** The registry write credential the landscape's services register with (HTTP Basic, carried as URL user info). */
export type RegistryCredential = ConfigCredential;

/** What landscapeEnv decided: the environment of every component, the start notes and the credentials to hand out. */
export interface Landscape {
  readonly env: Env;
  readonly notes: string[];
  readonly configCredential?: ConfigCredential;
  /** The config server credential of each component that reads its configuration, limited to its own application. */
  readonly applicationCredentials?: Readonly<Record<string, ConfigCredential>>;
  readonly registryCredential?: RegistryCredential;
  /** The registry credential of each component that registers, limited to its own application (REGISTRY_CLIENTS). */
  readonly registryCredentials?: Readonly<Record<string, RegistryCredential>>;
}

/**
 * The configuration the landscape's config server serves and its gateway routes by: CONFIG_REPO; else ./config-repo,
 * this repository's, where npm start runs; else the copy @trellis/examples ships in its dist/ (an installed
 * @trellis/cli run anywhere: `npx @trellis/cli up`).
 */
function landscapeConfigRepo(env: Env): string {
  if (env.CONFIG_REPO !== undefined && env.CONFIG_REPO !== '') return env.CONFIG_REPO;
  if (existsSync('config-repo')) return './config-repo';
  return fileURLToPath(new URL('./config-repo/', import.meta.resolve('@trellis/examples')));
}

/**
 * The environment for what `trellis up` starts: the development encrypt key for the config server when none is
 * given (refused in production), a config server credential for this run (the served configuration holds
 * decrypted secrets, so it is never open, not even in development), a registry write credential (see
 * registryWriteAuth), a gateway route API credential in development, and the partition counts of scaled services.
 */
export function landscapeEnv(
  env: Env,
  scale: Readonly<Record<string, number>>,
  configReaders: readonly string[] = [],
  registryWriters: readonly string[] = [],
): Landscape {
  const notes: string[] = [];
  const out: Record<string, string | undefined> = { ...env };
  const production = env.NODE_ENV === 'production';
  if (production && env.ENCRYPT_KEY === DEV_ENCRYPT_KEY) {
    throw new StartupError('the development ENCRYPT_KEY is refused with NODE_ENV=production; set a key of your own');
  }
  const ownKey = [env.ENCRYPT_KEY, env.ENCRYPT_KEY_FILE, env.ENCRYPT_KEY_STORE_LOCATION].some((v) => (v ?? '') !== '');
  if (!production && !ownKey) {
    out.ENCRYPT_KEY = DEV_ENCRYPT_KEY;
    notes.push(`config-server: development encrypt key ENCRYPT_KEY=${DEV_ENCRYPT_KEY} (config-repo's {cipher} values)`);
  }
  let configCredential: ConfigCredential | undefined;
  let applicationCredentials: Record<string, ConfigCredential> | undefined;
  // Left alone when the config server's clients are configured: whoever set them gives the services their URI too.
  if (!production && (env.CONFIG_CLIENTS ?? '') === '') {
    configCredential = { id: 'landscape', secret: randomBytes(18).toString('base64url') };
    const clients = [`${configCredential.id}:${configCredential.secret}:*`];
    // Each service reads with a credential limited to its own application, so one service's credential (or a
    // compromise of that service) never yields another's decrypted secrets; the `*` one is for the person at the
    // terminal. Listing every application also tells the config server whose file `product-composite.yml` is.
    if ((env.SPRING_CLOUD_CONFIG_URI ?? '') === '' && configReaders.length > 0) {
      applicationCredentials = {};
      for (const name of configReaders) {
        const credential = { id: name, secret: randomBytes(18).toString('base64url') };
        applicationCredentials[name] = credential;
        clients.push(`${name}:${credential.secret}:${name}`);
      }
    }
    out.CONFIG_CLIENTS = clients.join(';');
    notes.push(
      `config-server: development credential ${configCredential.id} / ${configCredential.secret} (every application, this run only${applicationCredentials === undefined ? '' : '; each service reads only its own with a credential of its own'})`,
    );
  }
  const registryCredential = registryWriteAuth(env, out, notes);
  const registryCredentials = registryClients(env, out, registryCredential, registryWriters);
  // The gateway's route API hands out the edge (a route can send /oauth2/token, client secrets and all, anywhere), so
  // it needs a credential, and is off without one. Development gets one per run; production gets none made: a
  // credential nobody chose and only a terminal saw is no production secret, and without one the API simply stays off.
  if (!production && (env.GATEWAY_ADMIN_AUTH ?? '') === '') {
    const secret = randomBytes(18).toString('base64url');
    out.GATEWAY_ADMIN_AUTH = `basic:admin:${secret}`;
    notes.push(`gateway: development admin credential admin / ${secret} (/actuator/gateway route API; this run only)`);
  }
  for (const [key, value] of Object.entries(partitionsEnv(scale))) out[key] ??= value;
  const configRepo = landscapeConfigRepo(env);
  out.CONFIG_REPO = configRepo;
  // The gateway of the landscape: the routes shipped beside the services' configuration, checking this landscape's tokens.
  out.GATEWAY_ROUTES_FILE ??= join(configRepo, 'gateway.yml');
  out.GATEWAY_AUDIENCE ??= env.AUTH_RESOURCE ?? 'product-api';
  // The gateway reaches the auth server over loopback and says who the caller was in X-Forwarded-For; without trusting
  // it, every caller through the gateway would share one source address, and one client's wrong secrets would slow
  // down every other caller of that client. Only this machine's processes can reach loopback.
  out.AUTH_TRUSTED_PROXIES ??= '127.0.0.1,::1';
  // The config server's failed-credential lockouts likewise: keyed on the gateway's address, 21 wrong tries through
  // `/config/**` would lock every caller behind the gateway out.
  out.CONFIG_TRUSTED_PROXIES ??= '127.0.0.1,::1';
  // But loopback is every local process, not only the gateway: each could claim any X-Forwarded-For and guess secrets
  // with a fresh source each time. The gateway proves itself with a secret only it and the auth server hold (made per
  // run, never printed; one given for either side is used for both, so they always match).
  const proxySecret =
    nonEmpty(env.AUTH_TRUSTED_PROXY_SECRET) ??
    nonEmpty(env.GATEWAY_PROXY_SECRET) ??
    randomBytes(24).toString('base64url');
  if (nonEmpty(env.AUTH_TRUSTED_PROXY_SECRET) === undefined) out.AUTH_TRUSTED_PROXY_SECRET = proxySecret;
  if (nonEmpty(env.GATEWAY_PROXY_SECRET) === undefined) out.GATEWAY_PROXY_SECRET = proxySecret;
  return {
    env: out,
    notes,
    ...(configCredential === undefined ? {} : { configCredential }),
    ...(applicationCredentials === undefined ? {} : { applicationCredentials }),
    ...(registryCredential === undefined ? {} : { registryCredential }),
    ...(registryCredentials === undefined ? {} : { registryCredentials }),
  };
}

/**
 * Each component that registers gets a registry credential limited to its own application, so one service's
 * credential (or a compromise of that service) cannot register a listener as another and receive the tokens sent to
 * it; the all-applications one stays with the person at the terminal (and the registry's peers). Made for this run
 * only and never printed; left alone when the registry's clients or the services' registry URL are set by hand
 * (whoever set them gives out the credentials), or when the write credential is a bearer token (no URL carries it).
 */
function registryClients(
  env: Env,
  out: Record<string, string | undefined>,
  all: RegistryCredential | undefined,
  writers: readonly string[],
): Record<string, RegistryCredential> | undefined {
  if (all === undefined || writers.length === 0) return undefined;
  if ((env.REGISTRY_CLIENTS ?? '') !== '' || (env.EUREKA_CLIENT_SERVICEURL_DEFAULTZONE ?? '') !== '') return undefined;
  const credentials: Record<string, RegistryCredential> = {};
  for (const name of writers) credentials[name] = { id: name, secret: randomBytes(18).toString('base64url') };
  // The registry compares application names upper-cased, so the component name is its application's.
  out.REGISTRY_CLIENTS = Object.values(credentials)
    .map((c) => `${c.id}:${c.secret}:${c.id}`)
    .join(';');
  return credentials;
}

/**
 * The registry's writes are never open in the landscape: whoever can register can put a listener of theirs behind
 * `lb://product-composite` and receive its callers' tokens. Without REGISTRY_WRITE_AUTH, development gets a
 * credential made for this run; production refuses to start (a credential nobody chose and only a terminal saw is no
 * production secret). The services get it as user info in the registry URL (EUREKA_CLIENT_SERVICEURL_DEFAULTZONE),
 * as Spring's Eureka client takes it, so a given credential must be basic unless that URL is set too.
 */
function registryWriteAuth(
  env: Env,
  out: Record<string, string | undefined>,
  notes: string[],
): RegistryCredential | undefined {
  const given = (env.REGISTRY_WRITE_AUTH ?? '').trim();
  const ownUrl = (env.EUREKA_CLIENT_SERVICEURL_DEFAULTZONE ?? '') !== '';
  if (given === '') {
    if (env.NODE_ENV === 'production') {
      throw new StartupError(
        'with NODE_ENV=production, trellis up needs REGISTRY_WRITE_AUTH (basic:<user>:<password>) so the registry is never open to writes',
      );
    }
    const credential = { id: 'registry', secret: randomBytes(18).toString('base64url') };
    out.REGISTRY_WRITE_AUTH = `basic:${credential.id}:${credential.secret}`;
    notes.push(
      `registry: development write credential ${credential.id} / ${credential.secret} (register, renew, cancel; this run only)`,
    );
    return credential;
  }
  let parsed: ReturnType<typeof parseCredential>;
  try {
    parsed = parseCredential(given);
  } catch (err) {
    // parseCredential's message never holds the value.
    throw new StartupError(`invalid REGISTRY_WRITE_AUTH: ${(err as Error).message}`);
  }
  if (parsed.scheme === 'basic') return { id: parsed.user, secret: parsed.password };
  if (!ownUrl) {
    throw new StartupError(
      'REGISTRY_WRITE_AUTH is a bearer token, which the services cannot send from a registry URL: use basic:<user>:<password>, or set EUREKA_CLIENT_SERVICEURL_DEFAULTZONE yourself',
    );
  }
  return undefined;
}

/** What later components learn from one that started: where the roles it offers are served, in the variables they read. */
export function wiringFrom(running: Running, env: Env, landscape: Landscape): Record<string, string> {
  const { registry, configServer, authorizationServer } = running.offers ?? {};
  const set = (key: string, value: string | undefined): Record<string, string> =>
    value === undefined || (env[key] ?? '') !== '' ? {} : { [key]: value };
  return {
    // REGISTRY_URL (no credential) is the upstream of config-repo/gateway.yml's read-only `/eureka/**` routes.
    ...set(
      'EUREKA_CLIENT_SERVICEURL_DEFAULTZONE',
      registry === undefined ? undefined : withUserInfo(`${registry}/eureka/`, landscape.registryCredential),
    ),
    ...set('REGISTRY_URL', registry),
    // CONFIG_SERVER_URL (no credential) is the upstream of config-repo/gateway.yml's `/config/**` route.
    ...set('SPRING_CLOUD_CONFIG_URI', withUserInfo(configServer, landscape.configCredential)?.replace(/\/$/, '')),
    ...set('CONFIG_SERVER_URL', configServer),
    ...set('AUTH_ISSUER', authorizationServer),
    ...set('GATEWAY_ISSUER', authorizationServer),
    ...set('AUTH_SERVER_URL', authorizationServer),
  };
}

/**
 * A component's exports for the ones after it. They travel together (a client id and its secret): when the user set
 * any of them, none is passed, so a chosen id is never paired with a seeded secret.
 */
export function exportsOf(running: Running, env: Env): Record<string, string> {
  const exports = running.exports ?? {};
  return Object.keys(exports).some((key) => (env[key] ?? '') !== '') ? {} : { ...exports };
}

/** A URL with the credential as user info, which Spring's clients (and ours) send as Basic. */
function withUserInfo(url: string | undefined, credential: ConfigCredential | undefined): string | undefined {
  if (url === undefined || credential === undefined) return url;
  const u = new URL(url);
  u.username = encodeURIComponent(credential.id);
  u.password = encodeURIComponent(credential.secret);
  return u.href;
}

/** The components that read their configuration from the config server: those with a SPRING_CLOUD_CONFIG_URI setting. */
function configReaders(components: readonly Component[]): string[] {
  return components.filter((c) => readsVariable(c, 'SPRING_CLOUD_CONFIG_URI')).map((c) => c.name);
}

/** The components that register with the registry: those with an EUREKA_CLIENT_SERVICEURL_DEFAULTZONE setting. */
function registryWriters(components: readonly Component[]): string[] {
  return components.filter((c) => readsVariable(c, 'EUREKA_CLIENT_SERVICEURL_DEFAULTZONE')).map((c) => c.name);
}

function readsVariable(component: Component, variable: string): boolean {
  return Object.values(component.settings as Record<string, { env?: string | readonly string[] }>).some((spec) =>
    (typeof spec.env === 'string' ? [spec.env] : (spec.env ?? [])).includes(variable),
  );
}

/** Ports taken by the first instance of every component, so extra instances do not take one of them. */
function firstPorts(components: readonly Component[], env: Env): Set<number> {
  const used = new Set<number>();
  for (const c of components) {
    try {
      const port = (loadSettings(c.settings, { env }) as { port?: unknown }).port;
      if (typeof port === 'number' && port !== 0) used.add(port);
    } catch {
      // A bad setting is reported when that component starts.
    }
  }
  return used;
}

interface Planned {
  readonly component: Component;
  readonly index: number;
  readonly count: number;
}

function plan(components: readonly Component[], scale: Readonly<Record<string, number>>): Planned[] {
  return components.flatMap((component) => {
    const count = scale[component.name] ?? 1;
    return Array.from({ length: count }, (_, index) => ({ component, index, count }));
  });
}

/** The scopes the suggested token asks for: the composite's read, and the writes that create and delete products. */
const TRY_IT_SCOPES = ['product:read', 'product:write'];

/** Where the first of the started components offering `role` serves it. */
function offered(running: readonly Running[], role: Exclude<keyof Offers, 'developmentClients'>): string | undefined {
  return running.map((r) => r.offers?.[role]).find((url) => url !== undefined);
}

/** The development client for the suggested token: one granted every scope it asks for, else the first offered. */
function tryItClient(running: readonly Running[]): DevelopmentClient | undefined {
  const clients = running.flatMap((r) => r.offers?.developmentClients ?? []);
  const grants = (client: DevelopmentClient): boolean =>
    TRY_IT_SCOPES.every((scope) => client.scope.split(' ').includes(scope));
  return clients.find(grants) ?? clients[0];
}

/**
 * The commands to paste after the summary: a token through the landscape's entry (or the authorization server when no
 * entry runs) and the sample API call with it.
 */
export function tryItLines(running: readonly Running[], caFile: string, configCredential?: ConfigCredential): string[] {
  const client = tryItClient(running);
  const entry = offered(running, 'entry');
  const tokenBase = entry ?? offered(running, 'authorizationServer');
  if (client === undefined || tokenBase === undefined) return [];
  const cacert = tokenBase.startsWith('https:') ? ` --cacert ${caFile}` : '';
  const lines = [
    'Try it:',
    `  TOKEN=$(curl -s${cacert} ${tokenBase}/oauth2/token -u ${client.id}:${client.secret} -d grant_type=client_credentials -d scope="${TRY_IT_SCOPES.join(' ')}" | jq -r .access_token)`,
  ];
  const api = entry ?? offered(running, 'sampleApi');
  if (api !== undefined) {
    const apiCa = api.startsWith('https:') ? ` --cacert ${caFile}` : '';
    lines.push(`  curl -s${apiCa} ${api}/product-composite/1 -H "Authorization: Bearer $TOKEN" | jq .`);
  }
  const config = entry === undefined ? undefined : `${entry}/config`;
  if (config !== undefined && configCredential !== undefined) {
    lines.push(
      `  curl -s --cacert ${caFile} ${config}/product/default -u ${configCredential.id}:${configCredential.secret} | jq .propertySources[0].source`,
    );
  }
  return lines;
}

/** Loads and starts every component (scaled as asked), prints the summary, and runs until Ctrl-C. */
export async function runUp(
  entries: readonly CatalogueEntry[],
  argv: readonly string[],
  env: Env,
  io: UpIo,
  renderSummary: (running: readonly Running[], caFile: string, extra: readonly string[]) => string,
): Promise<void> {
  const components = await loadAll(entries);
  let flags: UpSettings;
  let componentFlags: LandscapeFlags['components'];
  let scale: Record<string, number>;
  let wired: ReturnType<typeof landscapeEnv>;
  let binder: ChosenBinder;
  try {
    const split = landscapeFlags(argv, components);
    flags = loadSettings(upSettings(), { argv: split.up, env });
    componentFlags = split.components;
    binder = chooseBinder(flags);
    scale = { ...partitionScale(flags.partitions, components), ...parseScale(flags.scale ?? [], components) };
    wired = landscapeEnv(env, scale, configReaders(components), registryWriters(components));
  } catch (err) {
    if (!isUserError(err)) throw err;
    io.stderr.write(`trellis: ${err.message}\n`);
    io.exit(2);
    return;
  }
  // The shared flags (data dir, logging) apply to every component, over each one's own variables.
  const shared: Record<string, unknown> = Object.fromEntries(
    Object.keys(commonSettings()).flatMap((k) => {
      const v = (flags as Record<string, unknown>)[k];
      return v === undefined ? [] : [[k, v]];
    }),
  );
  // The landscape is one machine's: its services register as localhost and the core services answer without a token,
  // so nothing listens beyond loopback unless asked (`--host 0.0.0.0`), as a dev server should.
  shared.host ??= LANDSCAPE_HOST;
  const logger = createLogger({ name: 'trellis', level: flags.logLevel, format: flags.logFormat });
  const samplingChosen =
    env.MANAGEMENT_TRACING_SAMPLING_PROBABILITY !== undefined ||
    argv.some((a) => a.startsWith('--tracing-sampling-probability'));
  await runUntilSignal(
    async (started) => {
      // Zipkin is up before the first span is sent (the spans of start-up are part of the picture).
      const tracing = await landscapeTracing({
        tracing: flags.tracing,
        zipkinEndpoint: flags.zipkinEndpoint,
        zipkinPort: flags.zipkinPort,
        samplingChosen,
        logger,
      });
      if (tracing.zipkin !== undefined) started.push(tracing.zipkin);
      Object.assign(shared, tracing.settings);
      // A Kafka broker takes about ten seconds to start: it starts beside the components that do not need it, and
      // the first one that reads the broker URL waits for it.
      const starting = landscapeEvents(binder, { dataDir: flags.dataDir, kafkaPort: flags.kafkaPort, logger }).then(
        (events) => {
          if (events.broker !== undefined) started.push(events.broker);
          return events;
        },
      );
      starting.catch(() => undefined); // awaited below; an early failure must not go unhandled meanwhile
      let events: LandscapeEvents | undefined;
      const caFile = await ensureLocalCa(flags.dataDir, logger);
      let current: Record<string, string | undefined> = { TRELLIS_CA_FILE: caFile, ...wired.env };
      const used = firstPorts(components, current);
      for (const { component, index, count } of plan(components, scale)) {
        if (events === undefined && readsVariable(component, 'TRELLIS_BROKER_URL')) {
          events = await starting;
          current = { ...current, TRELLIS_BROKER_URL: events.brokerUrl };
        }
        const own = wired.applicationCredentials?.[component.name];
        const configUri = own === undefined ? undefined : withUserInfo(current.CONFIG_SERVER_URL, own);
        const ownRegistry = wired.registryCredentials?.[component.name];
        // The registry's URL as wired for everyone (made here, since registryCredentials exist), with this one's user info.
        const registryUri =
          ownRegistry === undefined
            ? undefined
            : withUserInfo(current.EUREKA_CLIENT_SERVICEURL_DEFAULTZONE, ownRegistry);
        const instanceEnv: Env = {
          ...current,
          ...(configUri === undefined ? {} : { SPRING_CLOUD_CONFIG_URI: configUri.replace(/\/$/, '') }),
          ...(registryUri === undefined ? {} : { EUREKA_CLIENT_SERVICEURL_DEFAULTZONE: registryUri }),
          ...(count > 1
            ? {
                SPRING_CLOUD_STREAM_INSTANCEINDEX: String(index),
                SPRING_CLOUD_STREAM_INSTANCECOUNT: String(count),
              }
            : {}),
        };
        const settings: Record<string, unknown> = {
          ...loadSettings(component.settings, { argv: componentFlags[component.name], env: instanceEnv }),
          ...shared,
        };
        if (index > 0 && typeof settings.port === 'number' && settings.port !== 0) {
          let port = settings.port + index;
          while (used.has(port)) port++;
          used.add(port);
          settings.port = port;
        }
        const name = count > 1 ? `${component.name}#${index + 1}` : component.name;
        const running = await component.start(settings, {
          logger: logger.child({ component: name }),
          env: instanceEnv,
        });
        started.push(count > 1 ? { ...running, name } : running);
        current = { ...current, ...exportsOf(running, env), ...wiringFrom(running, current, wired) };
      }
      events ??= await starting;
      const tryIt = tryItLines(started, caFile, wired.configCredential);
      const reach =
        shared.host === LANDSCAPE_HOST ? [`listening on ${LANDSCAPE_HOST} only (--host 0.0.0.0 to expose it)`] : [];
      // The broker is no HTTP listener: the events notes say where it is.
      const listed = started.filter((r) => r !== events?.broker && r !== tracing.zipkin);
      io.stdout.write(
        renderSummary(listed, caFile, [...reach, ...events.notes, ...tracing.notes, ...wired.notes, ...tryIt]),
      );
    },
    { logger, stderr: io.stderr, exit: io.exit },
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
