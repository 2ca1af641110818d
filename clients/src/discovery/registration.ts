// Registration with a Eureka registry, as Spring Cloud Netflix's client does it: POST the InstanceInfo, renew the
// lease with a heartbeat every renewal interval, register again when a heartbeat answers 404, cancel on stop. A
// registry that is down is retried with capped backoff and reported once per state change, never per attempt.
import { hostname, networkInterfaces } from 'node:os';
import type { Dispatcher } from 'undici';
import type { Logger } from '@trellis/kit';
import { describeError } from '../http/agent.ts';
import { DiscoveryError } from './errors.ts';
import { asciiUpperCase } from './names.ts';
import { RegistryHttp, type RegistryCredentials } from './registry-http.ts';
import { backoffDelay, systemClock, type BackoffOptions, type Clock } from '../http/timing.ts';
import type { InstanceStatus } from './wire.ts';

export interface EurekaRegistrationOptions {
  /** Eureka service URL(s), Spring's `defaultZone` form: `http://localhost:8761/eureka/`, comma-separated or an array; tried in order. */
  readonly registryUrl: string | readonly string[];
  /** Application name (`spring.application.name`); the registry upper-cases it. */
  readonly app: string;
  /** Plain HTTP port, registered as enabled. At least one of `port` and `securePort` is required. */
  readonly port?: number;
  /** HTTPS port, registered as enabled when given. */
  readonly securePort?: number;
  /** Default: this machine's host name, or `ipAddr` with `preferIpAddress`. */
  readonly hostName?: string;
  /** Default: the first non-internal IPv4 address, else 127.0.0.1. */
  readonly ipAddr?: string;
  /** Register the IP address as the host name (Spring's `eureka.instance.prefer-ip-address`). */
  readonly preferIpAddress?: boolean;
  /** Default Spring's `{hostName}:{app}:{port}`. */
  readonly instanceId?: string;
  /** Default: the app name in lower case. */
  readonly vipAddress?: string;
  /** Added to `management.port`, which Spring clients (and Spring Boot Admin) read. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Defaults point at the service kit's `/`, `/actuator/info` and `/actuator/health`. */
  readonly homePageUrl?: string;
  readonly statusPageUrl?: string;
  readonly healthCheckUrl?: string;
  /** Heartbeat interval. Default 30 (Eureka's). */
  readonly leaseRenewalIntervalSecs?: number;
  /** How long the registry keeps the instance without a heartbeat. Default 90 (Eureka's). */
  readonly leaseDurationSecs?: number;
  /** Status sent with the first registration. Default STARTING; call `markUp()` when the service is ready. */
  readonly initialStatus?: InstanceStatus;
  readonly credentials?: RegistryCredentials;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Backoff while the registry is unreachable; the delay never exceeds the renewal interval. */
  readonly retry?: BackoffOptions;
  /** Per request to the registry. Default 5 s. */
  readonly timeoutMs?: number;
  /** An undici dispatcher to use instead of the registration's own Agent (custom TLS trust, proxies). */
  readonly dispatcher?: Dispatcher;
}

/**
 * Where the registration stands: `registering` until the first answer, `registered` while the registry renews the
 * lease, `unreachable` while no registry answers, `rejected` when one refuses (bad body, missing credentials).
 */
export type RegistrationState = 'idle' | 'registering' | 'registered' | 'unreachable' | 'rejected' | 'stopped';

export interface RegistrationSnapshot {
  readonly state: RegistrationState;
  readonly instanceId: string;
  readonly app: string;
  /** The status this instance reports (what it last sent or will send). */
  readonly status: InstanceStatus;
  /** The registry URL in use (no credentials). */
  readonly registry: string;
  /** When the registry last accepted a registration or heartbeat (ms since epoch). */
  readonly lastRenewal: number | undefined;
  /** Consecutive failed attempts. */
  readonly failures: number;
  readonly lastError: string | undefined;
}

export interface EurekaRegistration {
  readonly instanceId: string;
  /** Upper-cased. */
  readonly app: string;
  /** Registers (asynchronously: a registry that is down does not make this throw) and starts heartbeats. Idempotent. */
  start(): void;
  /** Changes the reported status; the registry learns it at once through a new registration, as Spring's client does. */
  setStatus(status: InstanceStatus): void;
  /** `setStatus('UP')`: call when the service can take traffic. */
  markUp(): void;
  /** Resolves once the registry holds this instance with its current status. */
  whenSynced(): Promise<void>;
  snapshot(): RegistrationSnapshot;
  /** Stops heartbeats and cancels the registration (DELETE). Safe to call twice. */
  stop(): Promise<void>;
}

/** What a registration body describes; the fields Spring's client fills. */
export interface InstanceDescription {
  readonly instanceId: string;
  readonly app: string;
  readonly hostName: string;
  readonly ipAddr: string;
  readonly port: number | undefined;
  readonly securePort: number | undefined;
  readonly vipAddress: string;
  readonly homePageUrl: string;
  readonly statusPageUrl: string;
  readonly healthCheckUrl: string;
  readonly secureHealthCheckUrl: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly leaseRenewalIntervalSecs: number;
  readonly leaseDurationSecs: number;
}

function firstIpv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0) throw new DiscoveryError('invalid_options', `${name} must be a positive integer`);
  return v;
}

function validPort(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value <= 0 || value > 65535) {
    throw new DiscoveryError('invalid_options', `${name} must be a port number (1-65535), got ${value}`);
  }
  return value;
}

/**
 * Fills an instance description from options with Spring's defaults.
 *
 * @example
 * describeInstance({ app: 'review', port: 7003, hostName: 'localhost', registryUrl: '…', logger }).instanceId; // 'localhost:review:7003'
 */
export function describeInstance(options: EurekaRegistrationOptions): InstanceDescription {
  const port = validPort(options.port, 'port');
  const securePort = validPort(options.securePort, 'securePort');
  if (port === undefined && securePort === undefined) {
    throw new DiscoveryError('invalid_options', 'registration needs a port or a securePort');
  }
  if (!/^[\w.-]+$/.test(options.app)) {
    throw new DiscoveryError(
      'invalid_options',
      `app name ${JSON.stringify(options.app)} must be letters, digits, ., _ or -`,
    );
  }
  const ipAddr = options.ipAddr ?? firstIpv4();
  const hostName = options.preferIpAddress === true ? ipAddr : (options.hostName ?? hostname());
  const mainPort = port ?? securePort ?? 0;
  const base = port !== undefined ? `http://${hostName}:${port}` : `https://${hostName}:${securePort}`;
  return {
    instanceId: options.instanceId ?? `${hostName}:${options.app}:${mainPort}`,
    app: asciiUpperCase(options.app),
    hostName,
    ipAddr,
    port,
    securePort,
    vipAddress: options.vipAddress ?? options.app.toLowerCase(),
    homePageUrl: options.homePageUrl ?? `${base}/`,
    statusPageUrl: options.statusPageUrl ?? `${base}/actuator/info`,
    healthCheckUrl: options.healthCheckUrl ?? `${base}/actuator/health`,
    secureHealthCheckUrl: securePort === undefined ? null : `https://${hostName}:${securePort}/actuator/health`,
    metadata: { 'management.port': String(mainPort), ...options.metadata },
    leaseRenewalIntervalSecs: positiveInteger(options.leaseRenewalIntervalSecs, 30, 'leaseRenewalIntervalSecs'),
    leaseDurationSecs: positiveInteger(options.leaseDurationSecs, 90, 'leaseDurationSecs'),
  };
}

/**
 * The registration body Spring's client sends: Jackson's bean order, nulls written out, booleans native, ports as
 * `{"$": n, "@enabled": "true"}`. Eureka servers (and ours) accept it as is.
 *
 * @example
 * JSON.stringify(registrationBody(describeInstance(options), 'STARTING', { lastUpdated: now, lastDirty: now }));
 */
export function registrationBody(
  d: InstanceDescription,
  status: InstanceStatus,
  times: { readonly lastUpdated: number; readonly lastDirty: number },
): { instance: Record<string, unknown> } {
  return {
    instance: {
      instanceId: d.instanceId,
      app: d.app,
      appGroupName: null,
      ipAddr: d.ipAddr,
      sid: 'na',
      homePageUrl: d.homePageUrl,
      statusPageUrl: d.statusPageUrl,
      healthCheckUrl: d.healthCheckUrl,
      secureHealthCheckUrl: d.secureHealthCheckUrl,
      vipAddress: d.vipAddress,
      secureVipAddress: d.vipAddress,
      countryId: 1,
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      hostName: d.hostName,
      status,
      overriddenStatus: 'UNKNOWN',
      leaseInfo: {
        renewalIntervalInSecs: d.leaseRenewalIntervalSecs,
        durationInSecs: d.leaseDurationSecs,
        registrationTimestamp: 0,
        lastRenewalTimestamp: 0,
        evictionTimestamp: 0,
        serviceUpTimestamp: 0,
      },
      isCoordinatingDiscoveryServer: false,
      lastUpdatedTimestamp: times.lastUpdated,
      lastDirtyTimestamp: times.lastDirty,
      actionType: null,
      asgName: null,
      // Spring sends the disabled port as 8080 and the disabled secure port as 443 (its configuration defaults).
      port: { $: d.port ?? 8080, '@enabled': String(d.port !== undefined) },
      securePort: { $: d.securePort ?? 443, '@enabled': String(d.securePort !== undefined) },
      metadata: d.metadata,
    },
  };
}

/** Encodes a path segment the way Spring's RestTemplate does: `:` and `@` are legal in a segment and stay. */
function segment(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':').replace(/%40/g, '@');
}

/** What changes while a registration runs, in one place. */
interface RegistrationProgress {
  /** The status this instance reports (what it last sent or will send). */
  status: InstanceStatus;
  /** Eureka's lastDirtyTimestamp (also sent as lastUpdatedTimestamp): strictly increasing with each status change. */
  lastDirty: number;
  /** The lastDirtyTimestamp the registry acknowledged; undefined while it does not hold this instance. */
  acknowledged: number | undefined;
  /** Whether the registry may hold this instance, so stop() must cancel it. */
  mayBeRegistered: boolean;
  state: RegistrationState;
  failures: number;
  lastError: string | undefined;
  lastRenewal: number | undefined;
  /** The next step's timer. */
  timer: unknown;
  /** The step in flight: steps never overlap, so a heartbeat never races a register. */
  running: Promise<void> | undefined;
  /** Another step is due as soon as the one in flight ends. */
  again: boolean;
  /** Set once stop() is called: no step starts after it. */
  stopping: Promise<void> | undefined;
  /** whenSynced() callers waiting for the registry to hold the current status. */
  waiters: { resolve: () => void; reject: (err: Error) => void }[];
}

/** A registration's fixed parts and its progress, handed to each step. */
interface Registrar {
  readonly d: InstanceDescription;
  readonly clock: Clock;
  readonly http: RegistryHttp;
  readonly log: Logger;
  readonly intervalMs: number;
  readonly retry: BackoffOptions;
  readonly instancePath: string;
  /** Aborts an attempt in flight when stop() is called. */
  readonly abort: AbortController;
  readonly p: RegistrationProgress;
}

function synced({ p }: Registrar): boolean {
  return p.state === 'registered' && p.acknowledged === p.lastDirty;
}

function schedule(r: Registrar, ms: number): void {
  const { p, clock } = r;
  if (p.stopping !== undefined) return;
  if (p.timer !== undefined) clock.clearTimeout(p.timer);
  p.timer = clock.setTimeout(() => {
    p.timer = undefined;
    kick(r);
  }, ms);
}

/** Runs one step now, or right after the one in flight. */
function kick(r: Registrar): void {
  const { p } = r;
  if (p.stopping !== undefined) return;
  if (p.running !== undefined) {
    p.again = true;
    return;
  }
  p.running = step(r).finally(() => {
    p.running = undefined;
    if (p.again) {
      p.again = false;
      kick(r);
    }
  });
}

/** Registers while the registry does not hold the current status, else renews the lease. */
async function step(r: Registrar): Promise<void> {
  const { p } = r;
  if (p.state === 'idle') p.state = 'registering';
  try {
    if (p.acknowledged !== p.lastDirty) await register(r);
    else await heartbeat(r);
  } catch (err) {
    // No registry answered: unless it had registered this instance before, none holds it (an attempt cut short by
    // stop() may have arrived, so that case still cancels).
    if (p.lastRenewal === undefined && p.stopping === undefined) p.mayBeRegistered = false;
    if (p.stopping !== undefined) return;
    backOff(r, 'unreachable', err instanceof DiscoveryError ? err.message : describeError(err));
  }
}

async function register(r: Registrar): Promise<void> {
  const { p, d } = r;
  const sentDirty = p.lastDirty;
  const body = JSON.stringify(registrationBody(d, p.status, { lastUpdated: sentDirty, lastDirty: sentDirty }));
  p.mayBeRegistered = true;
  const answer = await r.http.send({ method: 'POST', path: `apps/${segment(d.app)}`, body, signal: r.abort.signal });
  // Eureka answers 204; some older servers and proxies 200.
  if (answer.status !== 204 && answer.status !== 200) {
    backOff(
      r,
      'rejected',
      `HTTP ${answer.status} on register${answer.body === '' ? '' : `: ${answer.body.slice(0, 200)}`}`,
    );
    return;
  }
  p.acknowledged = sentDirty;
  renewed(r);
  // A status change while the registration was in flight needs one more.
  if (p.acknowledged !== p.lastDirty) p.again = true;
  else schedule(r, r.intervalMs);
}

async function heartbeat(r: Registrar): Promise<void> {
  const { p } = r;
  const query = `?status=${p.status}&lastDirtyTimestamp=${p.lastDirty}`;
  const answer = await r.http.send({ method: 'PUT', path: r.instancePath + query, signal: r.abort.signal });
  if (answer.status === 404) {
    registerAgain(r, answer.endpoint);
    return;
  }
  if (answer.status !== 200) {
    backOff(r, 'rejected', `HTTP ${answer.status} on heartbeat`);
    return;
  }
  renewed(r);
  schedule(r, r.intervalMs);
}

/** The registry lost the lease (restart without the instance, expiry) or holds an older copy: register again. */
function registerAgain(r: Registrar, registry: string): void {
  r.log.info({ registry }, 'registry does not know this instance; registering again');
  r.p.acknowledged = undefined;
  r.p.again = true;
}

/** The registry accepted a registration or heartbeat. */
function renewed(r: Registrar): void {
  const { p } = r;
  if (p.state !== 'registered') {
    r.log.info(
      {
        registry: r.http.current,
        app: r.d.app,
        status: p.status,
        ...(p.failures > 0 ? { failedAttempts: p.failures } : {}),
      },
      'registered with the registry',
    );
  }
  p.state = 'registered';
  p.failures = 0;
  p.lastError = undefined;
  p.lastRenewal = r.clock.now();
  if (synced(r)) {
    for (const w of p.waiters) w.resolve();
    p.waiters = [];
  }
}

/** A failed attempt: try again after a capped backoff, with one log line per change of state. */
function backOff(r: Registrar, next: 'unreachable' | 'rejected', reason: string): void {
  const { p } = r;
  p.failures++;
  p.lastError = reason;
  if (p.state !== next) {
    // The retries behind this line are silent until the registry answers again.
    if (next === 'unreachable') r.log.warn({ reason }, 'registry unreachable; retrying with backoff');
    else r.log.error({ reason }, 'registry refused the registration; retrying with backoff');
    p.state = next;
  }
  schedule(r, backoffDelay(p.failures, r.retry));
}

function changeStatus(r: Registrar, next: InstanceStatus): void {
  const { p } = r;
  if (next === p.status || p.stopping !== undefined) return;
  p.status = next;
  // Strictly increasing, so the registry never takes the newer registration for a replay of the older one.
  p.lastDirty = Math.max(r.clock.now(), p.lastDirty + 1);
  r.log.info({ status: p.status }, 'instance status changed');
  if (p.state !== 'idle') kick(r);
}

/** Stops the steps, fails the waiters, and cancels the registration if the registry may hold it. */
async function shutdown(r: Registrar): Promise<void> {
  const { p } = r;
  if (p.timer !== undefined) r.clock.clearTimeout(p.timer);
  p.timer = undefined;
  // An in-flight attempt against a dead registry would hold shutdown for the whole timeout; drop it.
  r.abort.abort();
  await p.running?.catch(() => undefined);
  const pending = p.waiters;
  p.waiters = [];
  for (const w of pending)
    w.reject(new DiscoveryError('registry_unavailable', 'registration stopped before it synced'));
  try {
    if (p.mayBeRegistered) await cancel(r);
  } finally {
    p.state = 'stopped';
    await r.http.close();
  }
}

/** DELETE on the instance; a registry that cannot be told is logged, not thrown: the lease expires on its own. */
async function cancel(r: Registrar): Promise<void> {
  try {
    const answer = await r.http.send({ method: 'DELETE', path: r.instancePath });
    // 404: the registry had already dropped it, which is what cancelling asks for.
    if (answer.status === 200 || answer.status === 404)
      r.log.info({ registry: answer.endpoint }, 'registration cancelled');
    else r.log.warn({ status: answer.status }, 'registry refused to cancel the registration');
  } catch (err) {
    r.log.warn(
      { reason: err instanceof DiscoveryError ? err.message : describeError(err) },
      'could not cancel the registration',
    );
  }
}

/**
 * Registers an instance with a Eureka registry and keeps its lease: STARTING first, UP on `markUp()`, a heartbeat
 * every `leaseRenewalIntervalSecs`, re-registration on a 404 heartbeat, DELETE on `stop()`.
 *
 * @example
 * const registration = createEurekaRegistration({ registryUrl: 'http://localhost:8761/eureka/', app: 'review', port: 7003, logger });
 * registration.start();
 * registration.markUp();
 * // on shutdown
 * await registration.stop();
 */
export function createEurekaRegistration(options: EurekaRegistrationOptions): EurekaRegistration {
  const d = describeInstance(options);
  const clock = options.clock ?? systemClock;
  const intervalMs = d.leaseRenewalIntervalSecs * 1000;
  const r: Registrar = {
    d,
    clock,
    http: new RegistryHttp({
      registryUrl: options.registryUrl,
      timeoutMs: options.timeoutMs ?? 5000,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    }),
    log: options.logger.child({ instanceId: d.instanceId }),
    intervalMs,
    retry: {
      initialDelayMs: options.retry?.initialDelayMs ?? 1000,
      maxDelayMs: Math.min(options.retry?.maxDelayMs ?? intervalMs, intervalMs),
    },
    instancePath: `apps/${segment(d.app)}/${segment(d.instanceId)}`,
    abort: new AbortController(),
    p: {
      status: options.initialStatus ?? 'STARTING',
      lastDirty: clock.now(),
      acknowledged: undefined,
      mayBeRegistered: false,
      state: 'idle',
      failures: 0,
      lastError: undefined,
      lastRenewal: undefined,
      timer: undefined,
      running: undefined,
      again: false,
      stopping: undefined,
      waiters: [],
    },
  };
  const { p } = r;
  return {
    instanceId: d.instanceId,
    app: d.app,
    start() {
      if (p.state !== 'idle' || p.stopping !== undefined) return;
      kick(r);
    },
    setStatus: (status) => changeStatus(r, status),
    markUp: () => changeStatus(r, 'UP'),
    whenSynced() {
      if (synced(r)) return Promise.resolve();
      if (p.stopping !== undefined) {
        return Promise.reject(new DiscoveryError('registry_unavailable', 'registration is stopped'));
      }
      return new Promise((resolve, reject) => p.waiters.push({ resolve, reject }));
    },
    snapshot: () => ({
      state: p.state,
      instanceId: d.instanceId,
      app: d.app,
      status: p.status,
      registry: r.http.current,
      lastRenewal: p.lastRenewal,
      failures: p.failures,
      lastError: p.lastError,
    }),
    stop: () => (p.stopping ??= shutdown(r)),
  };
}
