// Components: what `trellis up` and `trellis <name>` start (a server or a service), with their settings and offers.
import type { Logger } from './logger.ts';
import { ANY_HOST, parseAllowedHost } from './allowed-hosts.ts';
import { HEALTH_SHOW_DETAILS } from './actuator.ts';
import { setting, type SettingSpec, type SettingSpecs, type Settings } from './settings.ts';
import { observabilitySettings } from './observability/index.ts';
import type { Endpoint } from './node-server.ts';

/** A started component (a server, or an example service): what `trellis up` prints and stops. */
export interface Running {
  readonly name: string;
  readonly endpoints: readonly Endpoint[];
  /** Lines for the start-up summary (credentials seeded for development, files to trust). */
  readonly notes?: readonly string[];
  /**
   * What this component hands to the components started after it, as the environment variables they read (e.g. a
   * development client's credential). `trellis up` passes them on unless the user set the variable; none is printed.
   */
  readonly exports?: Readonly<Record<string, string>>;
  /** The roles this component takes in the landscape: `trellis up` wires and suggests from these, not from names. */
  readonly offers?: Offers;
  stop(): Promise<void>;
}

/** What a started component offers the landscape: each role as the URL that serves it, and its development clients. */
export interface Offers {
  /** A Eureka registry (its API under /eureka/). */
  readonly registry?: string | undefined;
  readonly configServer?: string | undefined;
  /** An OAuth 2.0 authorization server (its endpoints under /oauth2/). */
  readonly authorizationServer?: string | undefined;
  /** The landscape's front door, routing the others' public paths (/oauth2/**, /config/**, the APIs). */
  readonly entry?: string | undefined;
  /** The example API a token is tried on. */
  readonly sampleApi?: string | undefined;
  /** Clients seeded for development whose credentials the person at the terminal may be shown. */
  readonly developmentClients?: readonly DevelopmentClient[];
}

export interface DevelopmentClient {
  readonly id: string;
  readonly secret: string;
  /** The scopes it may ask for, space-separated. */
  readonly scope: string;
}

export interface StartContext {
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * A component of the landscape: its settings and how to start it. The `trellis` command runs one component
 * (`trellis registry`) or many in one process (`trellis up`) through this one interface.
 */
export interface Component<S extends SettingSpecs = SettingSpecs> {
  readonly name: string;
  readonly summary: string;
  readonly settings: S;
  start(settings: Settings<S>, context: StartContext): Promise<Running>;
}

/** Declares a component with its settings' types inferred. */
export function defineComponent<S extends SettingSpecs>(component: Component<S>): Component<S> {
  return component;
}

/**
 * The settings every Trellis process shares: where data lives and how it logs. Components add their own port.
 *
 * @example
 * const settings = { ...commonSettings(), port: setting.port({ flag: 'port', env: 'PORT', default: 8761, help: 'HTTP port' }) };
 */
export function commonSettings() {
  return {
    dataDir: setting.string({
      flag: 'data-dir',
      env: 'TRELLIS_DATA_DIR',
      default: './data',
      help: 'directory for SQLite files, the local CA and other state',
    }),
    host: setting.string({ flag: 'host', env: 'TRELLIS_HOST', help: 'interface to listen on (all when unset)' }),
    allowedHosts: allowedHostsSetting(),
    healthShowDetails: setting.choice(HEALTH_SHOW_DETAILS, {
      flag: 'health-show-details',
      env: 'MANAGEMENT_ENDPOINT_HEALTH_SHOW_DETAILS',
      default: 'never',
      help:
        "who sees /actuator/health's components and details (Spring Boot's management.endpoint.health.show-details): " +
        'never (the status alone), always, or when-authorized (the config server: * clients and admins; elsewhere no one)',
    }),
    apiDocs: setting.boolean({
      flag: 'api-docs',
      env: 'SPRINGDOC_API_DOCS_ENABLED',
      help:
        'serve the OpenAPI document at /v3/api-docs and Swagger UI at /swagger-ui.html (springdoc.api-docs.enabled); ' +
        'default: on, off with NODE_ENV=production',
    }),
    logLevel: setting.choice(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      flag: 'log-level',
      env: 'LOG_LEVEL',
      default: 'info',
      help: 'log level',
    }),
    logFormat: setting.choice(['auto', 'json', 'pretty'], {
      flag: 'log-format',
      env: 'LOG_FORMAT',
      default: 'auto',
      help: 'log format; auto is pretty on a terminal, JSON lines otherwise',
    }),
    ...observabilitySettings(),
  } satisfies SettingSpecs;
}

/** `--allowed-hosts`: a comma-separated list whose every entry is checked to be a name a Host could carry. */
function allowedHostsSetting(): SettingSpec<readonly string[], false> {
  const list = setting.list({
    flag: 'allowed-hosts',
    env: 'TRELLIS_ALLOWED_HOSTS',
    help:
      `Host names served besides localhost, *.localhost, 127.x.x.x and [::1], comma-separated, ${ANY_HOST} for any; ` +
      'unset: a loopback listener refuses other names with 421 (DNS rebinding), any other listener serves every name',
  });
  return {
    ...list,
    accepts: 'a comma-separated list of host names, IP addresses ([…] for IPv6) or *',
    parse: (raw) => list.parse(raw).map(parseAllowedHost),
  };
}

export type CommonSettings = Settings<ReturnType<typeof commonSettings>>;

/**
 * Whether a server serves its API document and Swagger UI: as asked with `--api-docs`, else on except with
 * NODE_ENV=production, where a map of every route (admin ones included) is for operators who turn it on.
 */
export function apiDocsEnabled(asked: boolean | undefined, env: Readonly<Record<string, string | undefined>>): boolean {
  return asked ?? env.NODE_ENV !== 'production';
}
