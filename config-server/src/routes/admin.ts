// The property store's write, history and rollback API under /admin/ (SQLite or PostgreSQL underneath).
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import {
  documented,
  type CredentialLimiter,
  type KitEnv,
  type OpenApiOperation,
  type OpenApiSchema,
  type TrustedProxies,
} from '@trellis/kit';
import { mayRead, type AccessControl, type ConfigClient } from '../access/clients.ts';
import { refuseSites, requireJson } from '../access/cross-site.ts';
import { checkCredential } from '../access/guard.ts';
import {
  decodeSegment,
  forbiddenInText,
  normalizeNameOrLabel,
  parseApplications,
  parseProfiles,
} from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import { ADMIN_SECURITY, applicationParam, errorResponses, labelParam, profileParam, TRIMMED } from './openapi.ts';
import { NoSuchChangeError, type Change, type PropertyScope, type PropertyStore } from '../store/properties.ts';

export interface AdminDeps {
  readonly store: PropertyStore;
  /** Who may write, and which applications; undefined turns the write API off. */
  readonly admins: AccessControl | undefined;
  /** Lockouts after wrong credentials, shared with the client check. */
  readonly limiter: CredentialLimiter;
  /** Peers whose X-Forwarded-For names the client the limiter counts. */
  readonly proxies?: TrustedProxies | undefined;
}

const MAX_BODY = 256 * 1024;
const MAX_KEYS = 500;
const MAX_KEY_LENGTH = 256;
const MAX_VALUE_LENGTH = 64 * 1024;
const MASK = '******';
// Spring Boot's Sanitizer defaults: keys ending in these are shown masked in listings.
const SENSITIVE = /(password|secret|key|token|credentials?|vcap_services)$/i;
const CHALLENGE = 'Basic realm="config-server admin", charset="UTF-8"';
// Control characters would make keys unreadable in listings and break `.properties` renderings.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** checkKey's rules: 1-256 printable characters, not only spaces, not starting with `#`. */
const KEY_SCHEMA = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_KEY_LENGTH,
  pattern: `^(?!#)(?=[\\s\\S]*[^${TRIMMED}])[^\\u0000-\\u001f\\u007f]+$`,
} as const;

/** parseWrite's rules: 1-500 keys, each value text (no NUL, at most 64 KiB), a number, a boolean or null. */
const WRITE_SCHEMA = {
  type: 'object',
  minProperties: 1,
  maxProperties: MAX_KEYS,
  propertyNames: KEY_SCHEMA,
  additionalProperties: {
    type: ['string', 'number', 'boolean', 'null'],
    maxLength: MAX_VALUE_LENGTH,
    pattern: '^[^\\u0000]*$',
  },
} as OpenApiSchema;

const writeApiOff = (): ConfigServerError =>
  new ConfigServerError('write_api_off', 'the write API is off: set CONFIG_ADMINS to enable it');

// Also masked: keys whose last segment names a password or credential in another spelling (`db.passwd`, `pwd`,
// `smtp.auth` holding a Basic header, `client-credential`), which Spring's suffixes miss.
const SENSITIVE_SEGMENT = /passwd|pwd|auth|credential/i;

/** Whether a property's value is masked in history and listings. */
export function isSensitiveKey(key: string): boolean {
  if (SENSITIVE.test(key.replace(/[^A-Za-z_]/g, ''))) return true;
  const last =
    key
      .split(/[.[\]]/)
      .filter((s) => s !== '')
      .pop() ?? '';
  return SENSITIVE_SEGMENT.test(last);
}

// Passwords inside values, each pattern a prefix kept and the password (group 2) masked:
const PASSWORD_PARTS: readonly RegExp[] = [
  // a URL's user info (`jdbc:postgresql://user:pw@host/db`, `amqp://u:pw@h`): up to the authority's last `@`, as a
  // password may hold one;
  /(\/\/[^/\s?#@:]*:)([^/\s?#]*)(?=@)/g,
  // a query parameter (`jdbc:postgresql://h/db?user=x&password=pw`, MySQL's too);
  /([?&](?:password|passwd|pwd)=)([^&#\s]*)/gi,
  // a `;` separated property (`jdbc:sqlserver://h;user=x;password=pw`, .NET connection strings), `{…}` quoted or
  // up to the next `;`;
  /(;\s*(?:password|passwd|pwd)\s*=\s*)(\{(?:[^}]|\}\})*\}|[^;]*)/gi,
  // libpq's space separated `key=value` (`host=h user=u password=pw`), `'…'` quoted or up to the next space.
  /((?:^|\s)(?:password|passwd|pwd)\s*=\s*)('(?:[^'\\]|\\.)*(?:'|$)|\S*)/gi,
];

function maskPasswords(value: string): string {
  let masked = value;
  for (const part of PASSWORD_PARTS) masked = masked.replace(part, (_all, prefix: string) => `${prefix}${MASK}`);
  return masked;
}

function mask(key: string, value: string | null): string | null {
  if (value === null) return null;
  return isSensitiveKey(key) ? MASK : maskPasswords(value);
}

/** Whether a value written is what a listing showed in place of the real one, so storing it would lose the secret. */
function isMaskWrittenBack(key: string, value: string): boolean {
  if (isSensitiveKey(key)) return value === MASK;
  return PASSWORD_PARTS.some((part) => [...value.matchAll(part)].some((m) => m[2] === MASK));
}

function changeJson(change: Change) {
  return {
    id: change.id,
    application: change.application,
    profile: change.profile,
    label: change.label,
    actor: change.actor,
    at: change.at,
    kind: change.kind,
    ...(change.rollbackTo === null ? {} : { rollbackTo: change.rollbackTo }),
    changes: change.changes.map((c) => ({ key: c.key, old: mask(c.key, c.old), new: mask(c.key, c.new) })),
  };
}

function scopeOf(c: Context<KitEnv>): PropertyScope {
  // The router leaves a segment it cannot decode (`%ED%A0%80`, `%FF`: no UTF-8) as it came, which would be stored as a
  // literal name: the raw segments are decoded here, malformed ones refused (400).
  for (const raw of new URL(c.req.url).pathname.split('/')) decodeSegment(raw);
  const applications = parseApplications(c.req.param('application') ?? '');
  const profiles = parseProfiles(c.req.param('profile') ?? '');
  if (applications.length !== 1 || profiles.length !== 1) {
    throw new ConfigServerError('invalid_request', 'Invalid Request: write one application and one profile at a time');
  }
  return {
    application: applications[0] ?? '',
    profile: profiles[0] ?? '',
    label: normalizeNameOrLabel(c.req.param('label') ?? '', 'label'),
  };
}

function checkKey(key: string): void {
  const problem = forbiddenInText(key);
  if (problem !== undefined)
    throw new ConfigServerError('invalid_request', `Invalid Request: property names ${problem}`);
  if (key.trim() === '' || key.length > MAX_KEY_LENGTH || CONTROL.test(key) || key.startsWith('#')) {
    throw new ConfigServerError(
      'invalid_request',
      `Invalid Request: property names must be 1-${MAX_KEY_LENGTH} printable characters, not starting with #`,
    );
  }
}

// Fatal: bytes that are no UTF-8 are refused, not stored as U+FFFD in place of what the writer meant.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

async function jsonBody(c: Context<KitEnv>): Promise<unknown> {
  let text: string;
  try {
    text = UTF8.decode(await c.req.arrayBuffer());
  } catch {
    throw new ConfigServerError('invalid_request', 'Invalid Request: the body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ConfigServerError('invalid_request', 'Invalid Request: the body must be JSON');
  }
}

/** `{key: value}` with string, number or boolean values (stored as text, as Spring's VALUE column is); null removes. */
function parseWrite(body: unknown): Record<string, string | null> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ConfigServerError('invalid_request', 'Invalid Request: the body must be a JSON object of key → value');
  }
  const entries = Object.entries(body);
  if (entries.length === 0 || entries.length > MAX_KEYS) {
    throw new ConfigServerError('invalid_request', `Invalid Request: write 1 to ${MAX_KEYS} properties at a time`);
  }
  const out: Record<string, string | null> = {};
  for (const [key, value] of entries) {
    checkKey(key);
    if (value === null) out[key] = null;
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      const text = String(value);
      if (text.length > MAX_VALUE_LENGTH) {
        throw new ConfigServerError('invalid_request', `Invalid Request: the value of ${key} is over 64 KiB`);
      }
      if (isMaskWrittenBack(key, text)) {
        throw new ConfigServerError(
          'invalid_request',
          `Invalid Request: the value of ${key} is the mask ${MASK} that listings show in its place; send the real value or leave the key out`,
        );
      }
      // Refused for every store alike, before anything is written: PostgreSQL could not store it at all.
      const problem = forbiddenInText(text);
      if (problem !== undefined) {
        throw new ConfigServerError('invalid_request', `Invalid Request: the value of ${key} ${problem}`);
      }
      out[key] = text;
    } else {
      throw new ConfigServerError(
        'invalid_request',
        `Invalid Request: the value of ${key} must be a string, number, boolean or null (flatten nested keys with dots)`,
      );
    }
  }
  return out;
}

/**
 * The property store's write API: `PUT`/`DELETE`/`GET /admin/properties/{application}/{profile}/{label}`, the change
 * history at `GET /admin/history[/{application}/{profile}/{label}]` (values of sensitive keys and passwords in URLs masked) and
 * `POST /admin/rollback/{application}/{profile}/{label}` `{"to": changeId}`. Only credentials from the admin list
 * pass, each for its applications (`*` for all, and for the global history).
 */
export function adminRoutes(deps: AdminDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();

  /** `application` `*` asks for an admin of every application (the global history). */
  function admin(c: Context<KitEnv>, application: string): ConfigClient {
    if (deps.admins === undefined) throw writeApiOff();
    const client = checkCredential(c, deps.admins, deps.limiter, 'admin', deps.proxies);
    if (client === undefined) {
      c.header('www-authenticate', CHALLENGE);
      throw new ConfigServerError('unauthorized', 'Full authentication is required to access this resource');
    }
    const allowed = application === '*' ? client.applications.includes('*') : mayRead(client, [application]);
    if (!allowed) throw new ConfigServerError('forbidden', `admin ${client.id} may not change ${application}`);
    return client;
  }

  const limit = bodyLimit({
    maxSize: MAX_BODY,
    onError: () => {
      throw new ConfigServerError('payload_too_large', `Invalid Request: the body is over ${MAX_BODY / 1024} KiB`);
    },
  });
  const path = '/admin/properties/:application/:profile/:label';

  // Before the credential is looked at: an admin's browser sends its remembered Basic password along with whatever
  // a page of another site makes it send, so a write must come from no browser page of another site (same-site
  // too: a sibling subdomain is not this server), and with a JSON body, which such a page cannot send unasked.
  // On the write routes alone, not on /admin/*: a method no route serves is answered 405 with Allow, not 415.
  const writeChecks: MiddlewareHandler<KitEnv> = async (c, next) => {
    // Said first, as nothing else the caller could change would help.
    if (deps.admins === undefined) throw writeApiOff();
    refuseSites(c, ['cross-site', 'same-site'], 'change configuration');
    if (c.req.method !== 'DELETE') requireJson(c);
    await next();
  };

  const scopeParams = [applicationParam(), profileParam(), labelParam()];
  const scopeLink = {
    application: '$request.path.application',
    profile: '$request.path.profile',
    label: '$request.path.label',
  };
  // A write is followed by reading the scope back, its history, and a rollback to the change it made.
  const afterWrite = {
    ReadBack: { operationId: 'readProperties', parameters: scopeLink },
    History: { operationId: 'scopeHistory', parameters: scopeLink },
    RollBack: {
      operationId: 'rollback',
      parameters: scopeLink,
      requestBody: { to: '$response.body#/change/id' },
    },
  };
  const changeAnswer = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ChangeAnswer' } } },
    links: afterWrite,
  });
  const limitParam: NonNullable<OpenApiOperation['parameters']>[number] = {
    name: 'limit',
    in: 'query',
    description: 'newest changes first, at most this many (default 100)',
    schema: { type: 'integer', minimum: 1, maximum: 1000 },
  };
  const historyAnswer: NonNullable<OpenApiOperation['responses']>[string] = {
    description: 'the changes, newest first (sensitive values masked)',
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['changes'],
          properties: { changes: { type: 'array', items: { $ref: '#/components/schemas/Change' } } },
        },
      },
    },
  };
  const writeErrors = errorResponses([400, 403, 413, 415, 503], true);

  app.get(
    path,
    documented(
      {
        operationId: 'readProperties',
        summary: "A scope's stored properties (sensitive values masked)",
        tags: ['admin'],
        parameters: scopeParams,
        security: ADMIN_SECURITY,
        responses: {
          200: {
            description: 'the properties',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Properties' } } },
          },
          ...errorResponses([400, 403, 503], true),
        },
      },
      async (c) => {
        const scope = scopeOf(c);
        admin(c, scope.application);
        const properties = Object.fromEntries((await deps.store.read(scope)).map(([k, v]) => [k, mask(k, v)]));
        return c.json({ ...scope, properties });
      },
    ),
  );

  app.put(
    path,
    writeChecks,
    limit,
    documented(
      {
        operationId: 'writeProperties',
        summary: 'Set properties of a scope (null removes a key)',
        tags: ['admin'],
        parameters: scopeParams,
        security: ADMIN_SECURITY,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: WRITE_SCHEMA } },
        },
        responses: { 200: changeAnswer('the change made (null when nothing changed)'), ...writeErrors },
      },
      async (c) => {
        const scope = scopeOf(c);
        const client = admin(c, scope.application);
        const set = parseWrite(await jsonBody(c));
        const change = await deps.store.write({ scope, set, actor: client.id });
        c.var.log.info(
          { change: change?.id, ...scope, keys: Object.keys(set), actor: client.id },
          'properties written',
        );
        return c.json({ change: change === undefined ? null : changeJson(change) });
      },
    ),
  );

  app.delete(
    path,
    writeChecks,
    documented(
      {
        operationId: 'removeProperties',
        summary: 'Remove properties of a scope',
        tags: ['admin'],
        parameters: [
          ...scopeParams,
          {
            name: 'key',
            in: 'query',
            required: true,
            description: 'a property to remove; repeat for more',
            schema: { type: 'array', items: { ...KEY_SCHEMA }, minItems: 1, maxItems: MAX_KEYS },
            style: 'form',
            explode: true,
          },
        ],
        security: ADMIN_SECURITY,
        responses: { 200: changeAnswer('the change made (null when nothing changed)'), ...writeErrors },
      },
      async (c) => {
        const scope = scopeOf(c);
        const client = admin(c, scope.application);
        const keys = c.req.queries('key') ?? [];
        if (keys.length === 0 || keys.length > MAX_KEYS) {
          throw new ConfigServerError('invalid_request', 'Invalid Request: name the properties to remove with ?key=…');
        }
        keys.forEach(checkKey);
        const change = await deps.store.write({ scope, remove: keys, actor: client.id });
        c.var.log.info({ change: change?.id, ...scope, keys, actor: client.id }, 'properties removed');
        return c.json({ change: change === undefined ? null : changeJson(change) });
      },
    ),
  );

  const limitOf = (c: Context<KitEnv>): number => {
    const raw = c.req.query('limit');
    if (raw === undefined) return 100;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      throw new ConfigServerError('invalid_request', 'Invalid Request: limit must be a whole number from 1 to 1000');
    }
    return n;
  };

  app.get(
    '/admin/history',
    documented(
      {
        operationId: 'history',
        summary: 'Every change, newest first (admins of every application)',
        tags: ['admin'],
        parameters: [limitParam],
        security: ADMIN_SECURITY,
        responses: { 200: historyAnswer, ...errorResponses([400, 403, 503], true) },
      },
      async (c) => {
        admin(c, '*');
        return c.json({ changes: (await deps.store.history({ limit: limitOf(c) })).map(changeJson) });
      },
    ),
  );

  app.get(
    '/admin/history/:application/:profile/:label',
    documented(
      {
        operationId: 'scopeHistory',
        summary: "A scope's changes, newest first",
        tags: ['admin'],
        parameters: [...scopeParams, limitParam],
        security: ADMIN_SECURITY,
        responses: { 200: historyAnswer, ...errorResponses([400, 403, 503], true) },
      },
      async (c) => {
        const scope = scopeOf(c);
        admin(c, scope.application);
        return c.json({ changes: (await deps.store.history({ scope, limit: limitOf(c) })).map(changeJson) });
      },
    ),
  );

  app.post(
    '/admin/rollback/:application/:profile/:label',
    writeChecks,
    limit,
    documented(
      {
        operationId: 'rollback',
        summary: 'Restore a scope as it was after a change (0: before the first)',
        tags: ['admin'],
        parameters: scopeParams,
        security: ADMIN_SECURITY,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['to'],
                properties: { to: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
              },
            },
          },
        },
        responses: {
          200: changeAnswer('the change the rollback made (null when nothing changed)'),
          ...errorResponses([400, 403, 404, 413, 415, 503], true),
        },
      },
      async (c) => {
        const scope = scopeOf(c);
        const client = admin(c, scope.application);
        const body = await jsonBody(c);
        const to =
          typeof body === 'object' && body !== null && 'to' in body && typeof body.to === 'number'
            ? body.to
            : undefined;
        if (to === undefined || !Number.isSafeInteger(to) || to < 0) {
          throw new ConfigServerError(
            'invalid_request',
            'Invalid Request: the body must be {"to": <change id>} (0: before the first change)',
          );
        }
        let change: Change | undefined;
        try {
          change = await deps.store.rollback(scope, to, client.id);
        } catch (err) {
          if (err instanceof NoSuchChangeError) throw new ConfigServerError('no_such_change', err.message);
          throw err;
        }
        c.var.log.info({ change: change?.id, ...scope, to, actor: client.id }, 'properties rolled back');
        return c.json({ change: change === undefined ? null : changeJson(change) });
      },
    ),
  );

  return app;
}
