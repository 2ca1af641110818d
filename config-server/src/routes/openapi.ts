// The config server's OpenAPI pieces: path parameters as the routes check them, Spring's bodies, credentials.
import type { OpenApiOperation, OpenApiSchema } from '@trellis/kit';
import { MAX_NAME_LENGTH } from '../environment/index.ts';

type Parameter = NonNullable<OpenApiOperation['parameters']>[number];
type Responses = NonNullable<OpenApiOperation['responses']>;
export type Security = NonNullable<OpenApiOperation['security']>;
/** A parameter's schema (openapi-types types it as OpenAPI 3.0's). */
export type ParameterSchema = NonNullable<Extract<Parameter, { in: string }>['schema']>;

// What String.prototype.trim removes, spelled out: `\s` means other characters in the fuzzer's (Python's) regular
// expressions, and the document must say exactly what the server accepts.
export const TRIMMED = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
// normalizeNameOrLabel: no `..`, `#`, `\` or NUL anywhere, not starting with `(_)` (Spring's `/`) or `/`.
const PATH_SAFE = '(?!\\(_\\)|/)(?![\\s\\S]*(?:\\.\\.|#|\\\\|\\u0000))';
const PROFILE = `[${TRIMMED}]*[A-Za-z0-9](?:[A-Za-z0-9_.+@-]{0,${MAX_NAME_LENGTH - 2}}[A-Za-z0-9])?[${TRIMMED}]*`;
// Its first non-blank character is where the spaces end: a pattern that left it open would backtrack exponentially
// over a long list of names (Python's regular expressions, the fuzzer's, have no linear-time engine).
const NAME_PART = `[${TRIMMED}]*[^,${TRIMMED}][^,]*`;

/** `{name}`: one application or several, comma-separated (Spring's EnvironmentController checks). */
export const NAME_SCHEMA: ParameterSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_NAME_LENGTH,
  pattern: `^${PATH_SAFE}${NAME_PART}(?:,${NAME_PART})*$`,
  description: 'application name(s), comma-separated; (_) stands for /',
};

/** `{label}`: a branch, tag or commit (git), a sub-directory (native), a LABEL value (jdbc). */
export const LABEL_SCHEMA: ParameterSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_NAME_LENGTH,
  pattern: `^${PATH_SAFE}[\\s\\S]+$`,
  description: 'label: git branch, tag or commit; (_) stands for /',
};

/** `{profiles}`: Spring's profile names, comma-separated; the last one wins. */
export const PROFILES_SCHEMA: ParameterSchema = {
  type: 'string',
  pattern: `^${PROFILE}(?:,${PROFILE})*$`,
  description: 'profile(s), comma-separated; the last one wins',
};

const path = (name: string, schema: ParameterSchema, example: string): Parameter => ({
  name,
  in: 'path',
  required: true,
  schema,
  example,
});

// What the renderings' route takes before the environment's `/{name}/{profiles}` sees it.
const NOT_A_FILE = '(?![\\s\\S]*\\.(?:yml|yaml|properties|json)$)';

/** `{profiles}` of `/{name}/{profiles}`: a second segment ending .yml, .yaml, .properties or .json is a rendering's. */
export const ENVIRONMENT_PROFILES_SCHEMA: ParameterSchema = {
  ...PROFILES_SCHEMA,
  pattern: `^${NOT_A_FILE}${PROFILE}(?:,${PROFILE})*$`,
};

export const nameParam = (name = 'name'): Parameter => path(name, NAME_SCHEMA, 'product');
export const profilesParam = (name = 'profiles'): Parameter => path(name, PROFILES_SCHEMA, 'docker');
export const labelParam = (): Parameter => path('label', LABEL_SCHEMA, 'main');

export const resolvePlaceholdersParam: Parameter = {
  name: 'resolvePlaceholders',
  in: 'query',
  description: '`false` serves ${…} placeholders as written',
  schema: { type: 'string' },
};

const ERROR_SCHEMA: OpenApiSchema = {
  type: 'object',
  required: ['status', 'error', 'message'],
  properties: {
    timestamp: { type: 'string' },
    status: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
    path: { type: 'string' },
  },
};

const ENCRYPTION_ERROR_SCHEMA: OpenApiSchema = {
  type: 'object',
  required: ['status', 'description'],
  properties: { status: { type: 'string' }, description: { type: 'string' } },
};

const CHANGE_SCHEMA: OpenApiSchema = {
  type: 'object',
  required: ['id', 'application', 'profile', 'label', 'actor', 'at', 'kind', 'changes'],
  properties: {
    id: { type: 'integer' },
    application: { type: 'string' },
    profile: { type: 'string' },
    label: { type: 'string' },
    actor: { type: 'string' },
    at: { type: 'string' },
    kind: { type: 'string', enum: ['put', 'delete', 'rollback'] },
    rollbackTo: { type: 'integer', description: 'the change whose state a rollback restored (0: before the first)' },
    changes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'old', 'new'],
        properties: { key: { type: 'string' }, old: { type: ['string', 'null'] }, new: { type: ['string', 'null'] } },
      },
    },
  },
};

/** Shared schemas and the credentials: `--clients` (CONFIG_CLIENTS) and `--admins` (CONFIG_ADMINS). */
export const COMPONENTS = {
  schemas: {
    Error: ERROR_SCHEMA,
    EncryptionError: ENCRYPTION_ERROR_SCHEMA,
    Environment: {
      type: 'object',
      required: ['name', 'profiles', 'label', 'version', 'state', 'propertySources'],
      properties: {
        name: { type: 'string' },
        profiles: { type: 'array', items: { type: 'string' } },
        label: { type: ['string', 'null'] },
        version: { type: ['string', 'null'] },
        state: { type: ['string', 'null'] },
        propertySources: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'source'],
            properties: { name: { type: 'string' }, source: { type: 'object' } },
          },
        },
      },
    },
    Change: CHANGE_SCHEMA,
    ChangeAnswer: {
      type: 'object',
      required: ['change'],
      properties: { change: { oneOf: [{ $ref: '#/components/schemas/Change' }, { type: 'null' }] } },
    },
    Properties: {
      type: 'object',
      required: ['application', 'profile', 'label', 'properties'],
      properties: {
        application: { type: 'string' },
        profile: { type: 'string' },
        label: { type: 'string' },
        properties: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
  } satisfies Record<string, OpenApiSchema>,
  securitySchemes: {
    clientBasic: { type: 'http', scheme: 'basic', description: 'a --clients (CONFIG_CLIENTS) id and secret' },
    clientBearer: { type: 'http', scheme: 'bearer', description: 'a --clients (CONFIG_CLIENTS) secret' },
    clientToken: {
      type: 'apiKey',
      in: 'header',
      name: 'X-Config-Token',
      description: 'a --clients (CONFIG_CLIENTS) secret',
    },
    adminBasic: { type: 'http', scheme: 'basic', description: 'a --admins (CONFIG_ADMINS) id and secret' },
    adminBearer: { type: 'http', scheme: 'bearer', description: 'a --admins (CONFIG_ADMINS) secret' },
    adminToken: {
      type: 'apiKey',
      in: 'header',
      name: 'X-Config-Token',
      description: 'a --admins (CONFIG_ADMINS) secret',
    },
  },
} as const;

/** Any of the ways a client credential is presented; undefined on an open server (no --clients). */
export const CLIENT_SECURITY: Security = [{ clientBasic: [] }, { clientBearer: [] }, { clientToken: [] }];
export const ADMIN_SECURITY: Security = [{ adminBasic: [] }, { adminBearer: [] }, { adminToken: [] }];

const ERROR_CONTENT = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };
const ENCRYPTION_ERROR_CONTENT = { 'application/json': { schema: { $ref: '#/components/schemas/EncryptionError' } } };

const ERROR_TEXT: Readonly<Record<number, string>> = {
  400: 'Invalid Request: a name, label, profile or value the server cannot take',
  401: 'no credential, or a wrong one (with a Basic challenge)',
  403: 'the credential may not do this',
  404: 'no such label, resource or change',
  413: 'the body is too large',
  415: 'the body is not application/json',
  429: 'too many wrong credentials from this address (Retry-After)',
  503: 'the backend or database cannot be reached, or the server is stopping (Retry-After)',
};

// A path no route takes is answered by the kit, in its own shape.
const NOT_FOUND_CONTENT: Record<string, { schema: OpenApiSchema }> = {
  'application/json': {
    schema: {
      anyOf: [
        { $ref: '#/components/schemas/Error' },
        {
          type: 'object',
          required: ['error', 'message'],
          properties: { error: { type: 'string' }, message: { type: 'string' } },
        },
      ],
    },
  },
};

/** Spring Boot's error body for each status (404 also the kit's), plus 401 and 429 where credentials are checked. */
export function errorResponses(statuses: readonly number[], secured: boolean): Responses {
  const all = secured ? [...new Set([...statuses, 401, 429])] : statuses;
  return Object.fromEntries(
    all.map((status) => [
      String(status),
      { description: ERROR_TEXT[status] ?? 'error', content: status === 404 ? NOT_FOUND_CONTENT : ERROR_CONTENT },
    ]),
  );
}

/** Spring's `{status, description}` bodies of the encryption endpoints. */
export function encryptionErrorResponses(statuses: readonly number[], description: string): Responses {
  return Object.fromEntries(
    statuses.map((status) => [String(status), { description, content: ENCRYPTION_ERROR_CONTENT }]),
  );
}

/** The operation's `security`, or nothing on an open server (then no credential is asked for). */
export const securedBy = (security: Security | undefined): Pick<OpenApiOperation, 'security'> =>
  security === undefined ? {} : { security };

const FILE_PROFILE = `[${TRIMMED}]*[A-Za-z0-9](?:[A-Za-z0-9_.+@]{0,${MAX_NAME_LENGTH - 2}}[A-Za-z0-9])?[${TRIMMED}]*`;

/**
 * `{file}` of a rendering: `{name}-{profiles}.yml|yaml|properties|json`, split at the last hyphen, each part checked as
 * in the environment's path (so the profiles hold no hyphen, and the `..` check is on the name alone).
 */
const FILE_BODY =
  '(?!\\(_\\)|/)(?![\\s\\S]*(?:#|\\\\|\\u0000))(?![\\s\\S]*\\.\\.[\\s\\S]*-[^-]*$)' +
  `(?![\\s\\S]{${MAX_NAME_LENGTH + 1},}-[^-]*$)` +
  `${NAME_PART}(?:,${NAME_PART})*-${FILE_PROFILE}(?:,${FILE_PROFILE})*\\.(?:yml|yaml|properties|json)`;

export const FILE_SCHEMA: ParameterSchema = {
  type: 'string',
  pattern: `^${FILE_BODY}$`,
  description: '{name}-{profiles}.yml, .yaml, .properties or .json (split at the last hyphen)',
};

/**
 * `{file}` after a label: the same path template is the environment's `/{name}/{profiles}`, which answers whatever
 * is no file name, so the second segment is either (and the first a name as well as a label).
 */
export const FILE_OR_PROFILES_SCHEMA: ParameterSchema = {
  type: 'string',
  pattern: `^(?:${FILE_BODY}|${NOT_A_FILE}${PROFILE}(?:,${PROFILE})*)$`,
  description:
    '{name}-{profiles}.yml, .yaml, .properties or .json (split at the last hyphen); anything else is the profiles ' +
    'of GET /{name}/{profiles}',
};

// `/` or Spring's `(_)` between the segments of a resource path.
const SEP = '(?:/|\\(_\\))';

/** `{path}` of a plain resource: segments (`/` or `(_)` between them), none empty, `.`, `..`-holding or over 255. */
export const RESOURCE_PATH_SCHEMA: ParameterSchema = {
  type: 'string',
  pattern:
    `^(?![\\s\\S]*(?:\\.\\.|#|\\\\|\\u0000))(?!${SEP})(?![\\s\\S]*${SEP}(?:${SEP}|$))` +
    `(?!(?:[\\s\\S]*${SEP})?\\.(?:${SEP}|$))(?!(?:[\\s\\S]*${SEP})?(?:(?!${SEP})[\\s\\S]){${MAX_NAME_LENGTH + 1}})[\\s\\S]+$`,
  description: 'a file of the repository, relative to the label; (_) stands for /',
};

/** A status whose body is Spring's `{status, description}` from the cipher or Spring Boot's error from the checks. */
export function eitherErrorResponse(description: string): Responses[string] {
  return {
    description,
    content: {
      'application/json': {
        schema: {
          oneOf: [{ $ref: '#/components/schemas/Error' }, { $ref: '#/components/schemas/EncryptionError' }],
        },
      },
    },
  };
}

/** `{application}` of the write API: one application (no comma). */
export const applicationParam = (): Parameter =>
  path(
    'application',
    {
      type: 'string',
      minLength: 1,
      maxLength: MAX_NAME_LENGTH,
      pattern: `^${PATH_SAFE}${NAME_PART}$`,
      description: 'one application name; (_) stands for /',
    },
    'product',
  );

/** `{profile}` of the write API: one profile. */
export const profileParam = (): Parameter =>
  path('profile', { type: 'string', pattern: `^${PROFILE}$`, description: 'one profile' }, 'docker');
