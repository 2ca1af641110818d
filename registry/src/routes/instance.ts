// /apps/{APP}/{ID}: read one instance (GET), heartbeat (PUT), cancel (DELETE).
import { documented } from '@trellis/kit';
import type { KitEnv, LeanRequest, LeanResponse, LeanRoute, ScopedCredentials } from '@trellis/kit';
import { Hono } from 'hono';
import type { Context } from 'hono';
import {
  appNameProblem,
  asciiUpperCase,
  instanceIdProblem,
  parseInstanceStatus,
  renderInstance,
} from '../eureka/index.ts';
import type { InstanceStatus } from '../eureka/index.ts';
import {
  badRequest,
  dirtyTimestampParameter,
  guarded,
  instanceResponse,
  notFound,
  pathParameter,
  readSecurity,
  statusParameter,
  writeSecurity,
} from '../api-docs.ts';
import type { Credential } from '../auth/credentials.ts';
import { writerMay, writerOf } from '../auth/writers.ts';
import { RegistryError } from '../errors.ts';
import { isReplication, REPLICATION_HEADER, sendRendered } from '../http/negotiate.ts';
import { appParam, dirtyTimestampQuery, idParam, parseTimestamp, paths, statusQuery } from '../http/params.ts';
import type { Registry } from '../registry/registry.ts';
import { DEFAULT_LIMITS } from '../registry/limits.ts';
import type { RegistrationLimits } from '../registry/limits.ts';
import type { RouteDeps } from './deps.ts';
import { cancel, heartbeat } from './instance-operations.ts';
import type { OperationResult } from './instance-operations.ts';

export function instanceRoutes(deps: RouteDeps): Hono<KitEnv> {
  const { registry, limits } = deps;
  const app = new Hono<KitEnv>();

  const instancePath = [pathParameter('app'), pathParameter('id')];
  const badName = badRequest('not an application name or instance id');
  const unknown = notFound('no such instance');
  app.on(
    'GET',
    paths('/apps/:app/:id'),
    documented(
      guarded(readSecurity(deps.access), {
        summary: 'One instance',
        tags: ['eureka'],
        parameters: instancePath,
        responses: { 200: instanceResponse('the instance'), ...badName, ...unknown },
      }),
      (c) => {
        const instance = registry.instance(appParam(c), idParam(c));
        if (instance === undefined) throw new RegistryError('unknown_instance', 'Unknown instance');
        return sendRendered(c, 200, (format) => renderInstance(instance, { format }));
      },
    ),
  );

  // Spring sends ?status=UP&lastDirtyTimestamp=…; eureka-js-client sends nothing. Eureka ignores `status` here;
  // it is still checked, so a bad value is a 400 rather than silently accepted.
  const write = writeSecurity(deps.access);
  app.on(
    'PUT',
    paths('/apps/:app/:id'),
    documented(
      guarded(write, {
        summary: 'Heartbeat: renew the lease',
        description:
          'Also answered by a lean route ahead of the app (the same answers). 404 tells the client to register again.',
        tags: ['eureka'],
        parameters: [
          ...instancePath,
          statusParameter('status', 'the status the client believes it has (checked, otherwise ignored, as Eureka)'),
          statusParameter('overriddenstatus', "the override the client knows of (Eureka's spelling)"),
          statusParameter('overriddenStatus', 'the same, as some clients spell it'),
          dirtyTimestampParameter(limits),
        ],
        responses: {
          200: {
            description: 'renewed (empty body)',
            links: {
              statusOverride: {
                operationRef: '#/paths/~1eureka~1apps~1{app}~1{id}~1status/put',
                parameters: { app: '$request.path.app', id: '$request.path.id', value: 'OUT_OF_SERVICE' },
              },
            },
          },
          ...badRequest('a bad name, status or lastDirtyTimestamp (also one from the future)'),
          ...notFound('not registered here, or the client holds a newer copy: register again'),
          409: instanceResponse("a replicated heartbeat older than this registry's copy, which is sent back"),
        },
      }),
      (c) => {
        const overriddenStatus = statusQuery(c, 'overriddenstatus', 'overriddenStatus');
        statusQuery(c, 'status');
        const lastDirtyTimestamp = dirtyTimestampQuery(c, limits, registry.now());
        const result = heartbeat(registry, appParam(c), idParam(c), {
          lastDirtyTimestamp,
          overriddenStatus,
          replicated: isReplication(c),
        });
        // Every instance renews every 30 s: 1,000 instances would write 33 lines a second at info. Eureka logs renewals
        // at debug; so do we. A 404 (the client re-registers) or 409 (a replica out of date) stays at info.
        if (result.statusCode === 200) c.set('requestLogLevel', 'debug');
        return answer(c, result);
      },
    ),
  );

  app.on(
    'DELETE',
    paths('/apps/:app/:id'),
    documented(
      guarded(write, {
        summary: 'Cancel: remove the instance',
        tags: ['eureka'],
        parameters: instancePath,
        responses: { 200: { description: 'removed (empty body)' }, ...badName, ...unknown },
      }),
      (c) => {
        const replicated = isReplication(c);
        const result = cancel(registry, appParam(c), idParam(c), replicated);
        if (result.statusCode === 200) {
          c.var.log.info({ app: appParam(c), id: idParam(c), replicated }, 'instance cancelled');
        }
        return answer(c, result);
      },
    ),
  );

  return app;
}

/** 200 and 404 with empty bodies, as Eureka; 409 with the registry's copy for the replica to take. */
export function answer(c: Context<KitEnv>, result: OperationResult): Response {
  if (result.statusCode === 409 && result.instance !== undefined) {
    const instance = result.instance;
    return sendRendered(c, 409, (format) => renderInstance(instance, { format }));
  }
  return c.body(null, result.statusCode);
}

export interface LeanHeartbeatOptions {
  readonly registry: Registry;
  /** The API's write credential, as given to createApp; heartbeats without it are left to the app (401). */
  readonly writeAuth?: Credential | undefined;
  /** The API's application clients, as given to createApp; one renewing another app's instance is left to the app (403). */
  readonly clients?: ScopedCredentials | undefined;
  /** The mount points of the API (EUREKA_PREFIXES). */
  readonly prefixes: readonly string[];
  /** The API's limits, as given to createApp: a lastDirtyTimestamp from the future is left to the app (400). */
  readonly limits?: Partial<Pick<RegistrationLimits, 'maxClockSkewMs'>>;
}

/**
 * The client heartbeat (PUT /apps/{APP}/{ID}) as a kit lean route: every instance sends one every 30 s, so it is the
 * registry's hottest request, and the framework's per-request work is most of its cost. It answers exactly what the
 * route above answers (200 or 404, empty body) and leaves everything else to it: replicated heartbeats (they may get
 * a 409 with a body), missing credentials (401 with a challenge), bad parameters (400 with a reason), other paths.
 */
export function leanHeartbeat(options: LeanHeartbeatOptions): LeanRoute {
  const { registry, prefixes } = options;
  const access = { write: options.writeAuth, clients: options.clients };
  const maxClockSkewMs = options.limits?.maxClockSkewMs ?? DEFAULT_LIMITS.maxClockSkewMs;
  const appsPrefixes = prefixes.map((prefix) => `${prefix}/apps/`);
  return {
    method: 'PUT',
    uri: '/eureka/apps/{app}/{id}',
    answer: (req: LeanRequest): LeanResponse | undefined => {
      const rest = appsPrefixes.find((prefix) => req.path.startsWith(prefix));
      if (rest === undefined) return undefined;
      const segments = req.path.slice(rest.length).split('/');
      // {APP}/{ID} or {APP}/{ID}/ (clients add trailing slashes); /status and /metadata have their own routes.
      if (segments.length > 3 || (segments.length === 3 && segments[2] !== '')) return undefined;
      const [rawApp, rawId] = segments;
      if (rawApp === undefined || rawApp === '' || rawId === undefined || rawId === '') return undefined;
      if (req.headers[REPLICATION_HEADER] !== undefined) return undefined;
      // Who writes first (one digest per credential, as the guard), whose instance once the name is known.
      const writer = writerOf(access, req.headers.authorization);
      if (writer === undefined) return undefined;
      const params = req.search === '' ? undefined : new URLSearchParams(req.search);
      const overriddenStatus = leanStatus(params, 'overriddenstatus', 'overriddenStatus');
      const status = leanStatus(params, 'status');
      const dirty = params?.get('lastDirtyTimestamp') ?? '';
      const lastDirtyTimestamp = dirty === '' ? undefined : parseTimestamp(dirty);
      if (overriddenStatus === null || status === null || (lastDirtyTimestamp === undefined && dirty !== '')) {
        return undefined;
      }
      // One comparison, and only when the client sent a timestamp.
      if (lastDirtyTimestamp !== undefined && lastDirtyTimestamp > registry.now() + maxClockSkewMs) return undefined;
      const app = decodeSegment(rawApp);
      const id = decodeSegment(rawId);
      // A name the registry does not take is left to the app route, which answers 400 with the reason.
      if (app === undefined || id === undefined || appNameProblem(app) !== undefined) return undefined;
      if (instanceIdProblem(id) !== undefined) return undefined;
      const key = asciiUpperCase(app);
      if (!writerMay(writer, key)) return undefined;
      const result = heartbeat(registry, key, id, {
        lastDirtyTimestamp,
        overriddenStatus,
        replicated: false,
      });
      // Not replicated, so never a 409; 200 at debug as in the route above, a 404 (the client re-registers) at info.
      return result.statusCode === 200 ? { status: 200, logLevel: 'debug' } : { status: result.statusCode };
    },
  };
}

/** A status parameter: undefined when absent or empty, null when not one of Eureka's (the app route answers 400). */
function leanStatus(params: URLSearchParams | undefined, ...names: string[]): InstanceStatus | undefined | null {
  for (const name of names) {
    const raw = params?.get(name);
    if (raw === undefined || raw === null || raw === '') continue;
    return parseInstanceStatus(raw) ?? null;
  }
  return undefined;
}

/** A path segment decoded as hono decodes route parameters; undefined when malformed (the app route answers it). */
function decodeSegment(segment: string): string | undefined {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
