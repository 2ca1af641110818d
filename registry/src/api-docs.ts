// The registry's OpenAPI pieces: Eureka's wire shapes (JSON and XML) as schemas, the credentials as security schemes,
// and the responses every route shares. The routes document themselves with these (see `documented`); the schemas
// take exactly what the codecs in eureka/* take, so a generated registration is one the registry stores.
import type { ApiDocsOptions, OpenApiOperation, OpenApiSchema } from '@trellis/kit';
import type { Credential } from './auth/credentials.ts';
import { REALM } from './auth/credentials.ts';
import { writesGuarded, type WriteAccess } from './auth/writers.ts';
import { ACTION_TYPES, DATA_CENTER_NAMES, INSTANCE_STATUSES } from './eureka/instance.ts';
import { REPLICATION_ACTIONS } from './eureka/replication.ts';
import { MAX_NAME_LENGTH } from './eureka/text.ts';
import type { RegistrationLimits } from './registry/limits.ts';

type Responses = NonNullable<OpenApiOperation['responses']>;
type Parameter = NonNullable<OpenApiOperation['parameters']>[number];
/** A parameter with a 3.1 schema (openapi-types types parameters' schemas as 3.0 ones). */
export function parameter(
  p: { name: string; in: 'path' | 'query'; schema: OpenApiSchema } & Record<string, unknown>,
): Parameter {
  return p as Parameter;
}
type Security = NonNullable<OpenApiOperation['security']>;

/** What the document says about who may call what: derived from the credentials the registry runs with. */
export interface ApiAccess extends WriteAccess {
  readonly read?: Credential | undefined;
}

const schemeName = (credential: Credential): string => (credential.scheme === 'basic' ? 'basicAuth' : 'bearerAuth');

/** The schemes a write may present: --write-auth's, and Basic for REGISTRY_CLIENTS. */
function writeSchemes(access: ApiAccess): string[] {
  const names = new Set<string>();
  if (access.write !== undefined) names.add(schemeName(access.write));
  if ((access.clients?.clients.length ?? 0) > 0) names.add('basicAuth');
  return [...names];
}

/** Security of a write: any write credential; none when writes are open. */
export function writeSecurity(access: ApiAccess): Security | undefined {
  if (!writesGuarded(access)) return undefined;
  return writeSchemes(access).map((name) => ({ [name]: [] }));
}

/** Security of a read: the read credential or a write one when --read-auth is set; none otherwise. */
export function readSecurity(access: ApiAccess): Security | undefined {
  if (access.read === undefined) return undefined;
  const names = new Set([schemeName(access.read), ...(writesGuarded(access) ? writeSchemes(access) : [])]);
  return [...names].map((name) => ({ [name]: [] }));
}

const STATUS_WORDS = INSTANCE_STATUSES.join('|');

/** A word in any case as ECMA-262 patterns say it (no inline flags there): `up` → `[Uu][Pp]`. */
export function anyCase(word: string): string {
  return [...word]
    .map((c) => (c.toLowerCase() === c.toUpperCase() ? c : `[${c.toUpperCase()}${c.toLowerCase()}]`))
    .join('');
}
const ANY_CASE_STATUS = INSTANCE_STATUSES.map(anyCase).join('|');
/** Eureka's statuses as the registry reads them: any case; an empty value means "not given". */
const STATUS_PARAMETER: OpenApiSchema = {
  type: 'string',
  pattern: `^(?:|${ANY_CASE_STATUS})$`,
  description: `${INSTANCE_STATUSES.join(', ')} (any case)`,
};
const STATUS: OpenApiSchema = { type: 'string', enum: [...INSTANCE_STATUSES] };

/** `{APP}`: what appNameProblem takes ("." and ".." would be resolved away by any HTTP client). */
export const APP_NAME: OpenApiSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_NAME_LENGTH,
  pattern: `^(?!\\.\\.?$)[A-Za-z0-9._-]{1,${MAX_NAME_LENGTH}}$`,
  description: 'application name, compared upper-cased',
};
/** `{APP}` in a path: not `delta`, which /apps/delta answers (the delta, as in Eureka); DELTA is an application. */
const APP_PATH: OpenApiSchema = {
  ...APP_NAME,
  pattern: `^(?!delta$)(?!\\.\\.?$)[A-Za-z0-9._-]{1,${MAX_NAME_LENGTH}}$`,
};
/** `{ID}`: what instanceIdProblem takes. */
export const INSTANCE_ID: OpenApiSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_NAME_LENGTH,
  pattern: `^(?!\\.\\.?$)[A-Za-z0-9._:@-]{1,${MAX_NAME_LENGTH}}$`,
};
/** One VIP address looked up (/vips/{vip}); an empty one matches nothing and is not a path. */
const VIP: OpenApiSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_NAME_LENGTH,
  pattern: `^(?!\\.\\.?$)[A-Za-z0-9._:-]{1,${MAX_NAME_LENGTH}}$`,
};
/** A comma-separated VIP address list, as vipProblem takes it. */
const VIP_LIST: OpenApiSchema = {
  type: 'string',
  maxLength: MAX_NAME_LENGTH,
  pattern: '^(?:|[A-Za-z0-9._:-]+(?: *, *[A-Za-z0-9._:-]+)*)$',
};
/**
 * Text XML 1.0 carries and the registry takes: no control characters or U+FFFE/U+FFFF. Lone surrogates, refused too,
 * are not in the pattern: a JSON Schema pattern (ECMA-262, no u flag) cannot name them.
 */
const SAFE = '[^\\u0000-\\u001f\\u007f-\\u009f\\ufffe\\uffff]';
export const TEXT: OpenApiSchema = { type: 'string', pattern: `^${SAFE}*$` };
const NAME_TEXT: OpenApiSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_NAME_LENGTH,
  pattern: `^${SAFE}{1,${MAX_NAME_LENGTH}}$`,
};
/**
 * Milliseconds since the epoch in a body, as a client writes them. A lastDirtyTimestamp further ahead of the
 * registry's clock than the allowed skew is refused (400), a bound that moves with the clock; the schema's bound
 * (October 2025) is one every time it allows is before. Later times are taken too, up to that skew.
 */
const MILLIS: OpenApiSchema = { type: 'integer', minimum: 0, maximum: 1_759_999_999_999 };

export function pathParameter(name: 'app' | 'id' | 'vip'): Parameter {
  const schema = name === 'app' ? APP_PATH : name === 'id' ? INSTANCE_ID : VIP;
  return parameter({ name, in: 'path', required: true, schema });
}

export function statusParameter(name: string, description: string, required = false): Parameter {
  // An empty value counts as not given: allowed where the parameter is optional, refused where it is required.
  const schema = required ? { ...STATUS_PARAMETER, pattern: `^(?:${ANY_CASE_STATUS})$` } : STATUS_PARAMETER;
  return parameter({ name, in: 'query', required, description, schema });
}

/** `lastDirtyTimestamp`: digits; one ahead of the registry's clock beyond the allowed skew is refused (400). */
export function dirtyTimestampParameter(limits: RegistrationLimits): Parameter {
  return parameter({
    name: 'lastDirtyTimestamp',
    in: 'query',
    description: `milliseconds since the epoch, at most ${limits.maxClockSkewMs / 1000} s ahead of the registry's clock`,
    // Digits up to 1759999999999 (October 2025): any time before today, never one the registry refuses as ahead
    // of its clock. Later ones are taken too, up to the allowed skew ahead of the registry's clock.
    schema: { type: 'string', pattern: '^(?:|[0-9]{1,12}|1[0-6][0-9]{11}|17[0-5][0-9]{10})$' },
  });
}

// ---- what the registry answers ----

const PORT_OUT: OpenApiSchema = {
  type: 'object',
  required: ['$', '@enabled'],
  properties: { $: { type: 'integer' }, '@enabled': { type: 'string', enum: ['true', 'false'] } },
};
const STRING_MAP: OpenApiSchema = { type: 'object', additionalProperties: { type: 'string' } };

/** An instance as the registry writes it (Eureka's InstanceInfoSerializer). */
export const INSTANCE_OUT: OpenApiSchema = {
  type: 'object',
  required: ['instanceId', 'hostName', 'app', 'ipAddr', 'status', 'overriddenStatus', 'port', 'securePort'],
  properties: {
    instanceId: { type: 'string' },
    hostName: { type: 'string' },
    app: { type: 'string' },
    ipAddr: { type: 'string' },
    sid: { type: 'string' },
    status: STATUS,
    overriddenStatus: STATUS,
    port: PORT_OUT,
    securePort: PORT_OUT,
    countryId: { type: 'integer' },
    dataCenterInfo: {
      type: 'object',
      required: ['@class', 'name'],
      properties: {
        '@class': { type: 'string' },
        name: { type: 'string', enum: [...DATA_CENTER_NAMES] },
        metadata: STRING_MAP,
      },
    },
    leaseInfo: {
      type: 'object',
      properties: Object.fromEntries(
        [
          'renewalIntervalInSecs',
          'durationInSecs',
          'registrationTimestamp',
          'lastRenewalTimestamp',
          'evictionTimestamp',
          'serviceUpTimestamp',
        ].map((name) => [name, { type: 'integer' }]),
      ),
    },
    metadata: STRING_MAP,
    appGroupName: { type: 'string' },
    homePageUrl: { type: 'string' },
    statusPageUrl: { type: 'string' },
    healthCheckUrl: { type: 'string' },
    secureHealthCheckUrl: { type: 'string' },
    vipAddress: { type: 'string' },
    secureVipAddress: { type: 'string' },
    isCoordinatingDiscoveryServer: { type: 'string', enum: ['true', 'false'] },
    lastUpdatedTimestamp: { type: 'string', pattern: '^[0-9]+$' },
    lastDirtyTimestamp: { type: 'string', pattern: '^[0-9]+$' },
    actionType: { type: 'string', enum: [...ACTION_TYPES] },
    asgName: { type: 'string' },
  },
};

const APPLICATION_OUT: OpenApiSchema = {
  type: 'object',
  required: ['name', 'instance'],
  properties: { name: { type: 'string' }, instance: { type: 'array', items: INSTANCE_OUT } },
};

const APPLICATIONS_OUT: OpenApiSchema = {
  type: 'object',
  required: ['applications'],
  xml: { name: 'applications' },
  properties: {
    applications: {
      type: 'object',
      required: ['versions__delta', 'apps__hashcode', 'application'],
      properties: {
        versions__delta: { type: 'string', pattern: '^-?[0-9]+$' },
        apps__hashcode: {
          type: 'string',
          pattern: `^(?:(?:${STATUS_WORDS})_[0-9]+_)*$`,
          description: 'per status, sorted by name: STATUS_count_',
        },
        application: { type: 'array', items: APPLICATION_OUT },
      },
    },
  },
};

/** The documents of the read routes, by name: JSON when Accept mentions json, XML otherwise (Eureka's rule). */
function wire(schema: OpenApiSchema, description: string): Responses[string] {
  return {
    description: `${description}; JSON when Accept mentions json, XML otherwise`,
    content: { 'application/json': { schema }, 'application/xml': { schema: { type: 'string' } } },
  };
}

export const applicationsResponse = (description: string): Responses[string] => wire(APPLICATIONS_OUT, description);
export const applicationResponse = (description: string): Responses[string] =>
  wire({ type: 'object', required: ['application'], properties: { application: APPLICATION_OUT } }, description);
export const instanceResponse = (description: string): Responses[string] =>
  wire({ type: 'object', required: ['instance'], properties: { instance: INSTANCE_OUT } }, description);

const reason = (description: string): Responses[string] => ({
  description,
  content: { 'text/plain': { schema: { type: 'string' } } },
});

/** The 401 and 403 of a route behind `security`; nothing when it is open. */
export function authResponses(security: Security | undefined): Responses {
  if (security === undefined) return {};
  return {
    401: {
      description: 'no or wrong credentials',
      headers: {
        'WWW-Authenticate': { schema: { type: 'string' }, description: `a challenge in realm ${REALM}` },
      },
      content: { 'text/plain': { schema: { type: 'string' } } },
    },
    403: reason('credentials that may not do this (a read-only one, or an application client for another app)'),
  };
}

export const badRequest = (description: string): Responses => ({ 400: reason(description) });
export const notFound = (description: string): Responses => ({ 404: { description: `${description} (empty body)` } });
export const tooLarge = (description: string): Responses => ({ 413: reason(description) });
export const unsupportedBody: Responses = {
  415: reason('a body declared neither JSON nor XML (Content-Type)'),
};
/** An event stream's 200; schemathesis, like the OpenAPI 3.2 reading, takes the schema as that of each event. */
export function eventStream(description: string, events: readonly string[], data: OpenApiSchema): Responses[string] {
  return {
    description,
    content: {
      'text/event-stream': {
        schema: {
          type: 'object',
          required: ['event', 'data'],
          properties: {
            event: { type: 'string', enum: [...events] },
            data,
            id: { type: 'string', pattern: '^[0-9]+$' },
          },
        },
      },
    },
  };
}

export const streamsFull: Responses = {
  503: {
    description: 'too many event streams open (in all or from this address), or the registry is stopping',
    headers: { 'Retry-After': { schema: { type: 'string' } } },
    content: { 'text/plain': { schema: { type: 'string' } } },
  },
};

/** An operation with its security and the 401/403 that go with it. */
export function guarded(security: Security | undefined, operation: OpenApiOperation): OpenApiOperation {
  return {
    ...operation,
    ...(security === undefined ? {} : { security }),
    responses: { ...operation.responses, ...authResponses(security) },
  };
}

// ---- what a client sends ----

const STRING_OR_NULL = (schema: OpenApiSchema): OpenApiSchema => ({ anyOf: [schema, { type: 'null' }] });

/** A port as Eureka's Jackson codec reads it: `{"$": 8080, "@enabled": "true"}`, numbers or text alike. */
const PORT_IN: OpenApiSchema = {
  type: 'object',
  properties: {
    $: {
      anyOf: [
        { type: 'integer', minimum: 0, maximum: 65_535 },
        { type: 'string', pattern: '^[0-9]{1,5}$' },
      ],
    },
    '@enabled': { anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['true', 'false'] }] },
  },
};

const LEASE_IN: OpenApiSchema = {
  type: 'object',
  properties: {
    renewalIntervalInSecs: { type: 'integer', minimum: 0, maximum: 86_400 },
    durationInSecs: { type: 'integer', minimum: 0, maximum: 86_400 },
    registrationTimestamp: MILLIS,
    lastRenewalTimestamp: MILLIS,
    evictionTimestamp: MILLIS,
    serviceUpTimestamp: MILLIS,
  },
};

/** Metadata the registry takes: text keys and values, within the entry and byte ceilings. */
function metadataIn(limits: RegistrationLimits): OpenApiSchema {
  return {
    type: 'object',
    description: `at most ${limits.maxMetadataEntries} entries and ${limits.maxMetadataBytes} bytes (UTF-8, keys and values)`,
    maxProperties: limits.maxMetadataEntries,
    propertyNames: TEXT,
    additionalProperties: TEXT,
  } as OpenApiSchema;
}

/**
 * The instance a client registers (JSON): Spring's bean and eureka-js-client's object both fit. Fields the codec
 * defaults may be left out or null; the path's `{APP}` and `app` must name the same application.
 */
export function instanceIn(limits: RegistrationLimits, app: OpenApiSchema = APP_NAME): OpenApiSchema {
  return {
    type: 'object',
    required: ['instanceId', 'hostName', 'app', 'ipAddr', 'dataCenterInfo'],
    properties: {
      instanceId: INSTANCE_ID,
      hostName: NAME_TEXT,
      app: { ...app, description: 'the same application as the path names (any case)' },
      ipAddr: NAME_TEXT,
      status: STATUS,
      overriddenStatus: STATUS,
      port: PORT_IN,
      securePort: PORT_IN,
      dataCenterInfo: {
        type: 'object',
        required: ['name'],
        properties: {
          '@class': { type: 'string' },
          name: { type: 'string', enum: [...DATA_CENTER_NAMES] },
        },
      },
      leaseInfo: LEASE_IN,
      metadata: metadataIn(limits),
      homePageUrl: STRING_OR_NULL(TEXT),
      statusPageUrl: STRING_OR_NULL(TEXT),
      healthCheckUrl: STRING_OR_NULL(TEXT),
      secureHealthCheckUrl: STRING_OR_NULL(TEXT),
      vipAddress: STRING_OR_NULL(VIP_LIST),
      secureVipAddress: STRING_OR_NULL(VIP_LIST),
      isCoordinatingDiscoveryServer: { anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['true', 'false'] }] },
      lastUpdatedTimestamp: MILLIS,
      lastDirtyTimestamp: { ...MILLIS, description: 'at most the allowed clock skew ahead of the registry' },
    },
  };
}

/** The same instance as XML (`<instance>…</instance>`, XStream's shape): ports as plain numbers, enabled by default. */
function instanceXml(limits: RegistrationLimits, app: OpenApiSchema): OpenApiSchema {
  const json = instanceIn(limits, app);
  const properties = { ...(json.properties as Record<string, OpenApiSchema>) };
  for (const [name, schema] of Object.entries(properties)) {
    if ('anyOf' in schema) properties[name] = (schema.anyOf as OpenApiSchema[])[0] as OpenApiSchema;
  }
  properties.port = { type: 'integer', minimum: 0, maximum: 65_535 };
  properties.securePort = { type: 'integer', minimum: 0, maximum: 65_535 };
  properties.isCoordinatingDiscoveryServer = { type: 'boolean' };
  properties.dataCenterInfo = {
    type: 'object',
    required: ['name'],
    properties: {
      class: { type: 'string', xml: { attribute: true } },
      name: { type: 'string', enum: [...DATA_CENTER_NAMES] },
    },
  };
  properties.overriddenStatus = { ...STATUS, xml: { name: 'overriddenstatus' } };
  return { ...json, properties, xml: { name: 'instance' } };
}

/** A registration; `app` is what the path's {APP} allows (a fixed name where the path has none). */
export function registrationBody(
  limits: RegistrationLimits,
  app: OpenApiSchema = APP_NAME,
): NonNullable<OpenApiOperation['requestBody']> {
  return {
    required: true,
    description: `Eureka's registration, at most ${limits.maxInstanceBytes} bytes`,
    content: {
      'application/json': {
        schema: { type: 'object', required: ['instance'], properties: { instance: instanceIn(limits, app) } },
      },
      'application/xml': { schema: instanceXml(limits, app) },
    },
  };
}

/** A peer's batch: Eureka's ReplicationList (JSON only). */
export function replicationBody(limits: RegistrationLimits): NonNullable<OpenApiOperation['requestBody']> {
  return {
    required: true,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['replicationList'],
          properties: {
            replicationList: {
              type: 'array',
              // Each item is judged on its own: a malformed one is answered 400 in the list, the batch still 200.
              items: {
                description: 'a ReplicationInstance; one that is not is answered {"statusCode": 400} on its own',
                anyOf: [
                  {
                    type: 'object',
                    required: ['appName', 'id', 'action'],
                    properties: {
                      appName: APP_NAME,
                      id: INSTANCE_ID,
                      lastDirtyTimestamp: MILLIS,
                      overriddenStatus: STATUS,
                      status: STATUS,
                      instanceInfo: instanceIn(limits),
                      action: { type: 'string', enum: [...REPLICATION_ACTIONS] },
                    },
                  },
                  {},
                ],
              },
            },
          },
        },
      },
    },
  };
}

export const replicationResponse: Responses[string] = {
  description: 'one answer per item, in order (a refused item does not fail the batch)',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['responseList'],
        properties: {
          responseList: {
            type: 'array',
            items: {
              type: 'object',
              required: ['statusCode'],
              properties: { statusCode: { type: 'integer' }, responseEntity: INSTANCE_OUT },
            },
          },
        },
      },
    },
  },
};

/** The document's security schemes and description, for createService's apiDocs. */
export function registryApiDocs(access: ApiAccess): Partial<ApiDocsOptions> {
  const schemes = new Set([...(writesGuarded(access) ? writeSchemes(access) : [])]);
  if (access.read !== undefined) schemes.add(schemeName(access.read));
  const securitySchemes = Object.fromEntries(
    [...schemes].map((name) => [
      name,
      name === 'basicAuth'
        ? {
            type: 'http' as const,
            scheme: 'basic',
            description: '--write-auth / --read-auth basic:<user>:<password>, or a REGISTRY_CLIENTS id:secret',
          }
        : { type: 'http' as const, scheme: 'bearer', description: '--write-auth / --read-auth bearer:<token>' },
    ]),
  );
  return {
    description:
      'Eureka-compatible service registry: the Eureka REST API under /eureka (and /eureka/v2; every path also with a trailing slash), a watch stream and the dashboard',
    ...(schemes.size === 0 ? {} : { components: { securitySchemes } }),
  };
}
