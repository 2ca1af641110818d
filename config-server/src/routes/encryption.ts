// `/encrypt`, `/decrypt` and `/encrypt/status`, answering as Spring's EncryptionController does.
import { Hono, type Context } from 'hono';
import { documented, type KitEnv, type OpenApiOperation } from '@trellis/kit';
import { CipherError, formatCipherPrefixes, parseCipherPrefixes, parseCipherValue } from '../cipher/index.ts';
import type { KeyChain } from '../cipher/index.ts';
import { refuseSites } from '../access/cross-site.ts';
import { ConfigServerError } from '../errors.ts';
import { environmentRequest, type RouteDeps } from './deps.ts';
import {
  eitherErrorResponse,
  encryptionErrorResponses,
  errorResponses,
  nameParam,
  profilesParam,
  securedBy,
} from './openapi.ts';

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isTextPlain(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'text/plain';
}

/** java.net.URLDecoder: `+` is a space, `%xx` a UTF-8 byte; malformed input is left as it was. */
function urlDecode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}

/**
 * Spring's EncryptionController#stripFormData. `curl -d secret` posts `secret` as a form field with no value, which
 * arrives as `secret=` with a form content type: undo the form encoding and drop the `=`. For ciphertexts a trailing
 * `=` may be base64 padding, so it is dropped only when the length is odd and what remains decodes.
 */
export function stripFormData(data: string, contentType: string | undefined, cipher: boolean): string {
  if (!data.endsWith('=') || isTextPlain(contentType)) return data;
  let decoded = urlDecode(data);
  if (!cipher) return decoded.slice(0, -1);
  // URL decoding turned base64's '+' into spaces.
  decoded = decoded.replaceAll(' ', '+');
  const candidate = decoded.slice(0, -1);
  if (decoded.endsWith('=') && decoded.length % 2 === 1 && (HEX.test(candidate) || BASE64.test(candidate))) {
    return candidate;
  }
  return decoded;
}

function requireKeys(keys: KeyChain | undefined): KeyChain {
  if (keys === undefined) throw new ConfigServerError('no_key', 'No key was installed for encryption service');
  return keys;
}

/** Maps the cipher model's errors to Spring's answers; messages are the cipher module's fixed texts. */
function cipherFailure(err: unknown): never {
  if (!(err instanceof CipherError)) throw err;
  switch (err.code) {
    // wrong_password: a `{secret:…}` that does not unlock its key store entry; Spring cannot decrypt it either.
    case 'invalid_ciphertext':
    case 'unknown_key':
    case 'wrong_password':
      throw new ConfigServerError('invalid_cipher', 'Text not encrypted with this key');
    case 'decryption_unsupported':
      throw new ConfigServerError('decryption_unsupported', 'Server-side decryption is not supported');
    case 'no_key':
      throw new ConfigServerError('no_key', 'No key was installed for encryption service');
    case 'invalid_key':
      throw err;
  }
}

// text/plain stays accepted, as Spring does (curl -d, existing scripts), so a page of another site could send one:
// a browser's cross-site request is refused instead, before its remembered credential is looked at. Same-site too, as
// for admin writes: a page on a sibling host (another app under the same domain) is another origin,
// and its script could make the browser send its remembered credential to /decrypt.
async function refusesCrossSite(c: Context<KitEnv>, next: () => Promise<void>): Promise<void> {
  refuseSites(c, ['cross-site', 'same-site'], 'encrypt or decrypt');
  await next();
}

/** `POST /encrypt`, `POST /decrypt` (and their `/{name}/{profiles}` forms), `GET /encrypt/status`. */
export function encryptionRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  const { metrics } = deps;
  // Counted once the caller is admitted (refusals are the request meters' business); no key installed is a failure.
  const counted =
    (operation: 'encrypt' | 'decrypt', handle: (c: Context<KitEnv>) => Promise<Response>) =>
    async (c: Context<KitEnv>): Promise<Response> => {
      if (metrics === undefined) return handle(c);
      let ok = false;
      try {
        const res = await handle(c);
        ok = true;
        return res;
      } finally {
        metrics.cipherRequest(operation, ok);
      }
    };

  const encrypt = counted('encrypt', async (c) => {
    const keys = requireKeys(deps.keys);
    const input = stripFormData(await c.req.text(), c.req.header('content-type'), false);
    const { keyAlias, secret, prefixes, payload } = parseCipherPrefixes(input);
    if (payload.length === 0) throw new ConfigServerError('empty_text', 'No text to encrypt');
    let out: string;
    try {
      out =
        prefixes.size === 0
          ? keys.encrypt(payload)
          : formatCipherPrefixes(prefixes, keys.locate(keyAlias, secret).encrypt(payload));
    } catch (err) {
      cipherFailure(err);
    }
    return c.text(out);
  });

  const decrypt = counted('decrypt', async (c) => {
    const keys = requireKeys(deps.keys);
    const input = stripFormData(await c.req.text(), c.req.header('content-type'), true);
    if (parseCipherValue(input).payload.length === 0)
      throw new ConfigServerError('invalid_cipher', 'Text not encrypted with this key');
    let plain: string;
    try {
      plain = keys.decrypt(input);
    } catch (err) {
      cipherFailure(err);
    }
    return c.newResponse(plain, 200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  });

  const secured = deps.security !== undefined;
  const operationId = (operation: 'encrypt' | 'decrypt', forApplication: boolean): string =>
    forApplication ? `${operation}ForApplication` : operation;
  const cipherOperation = (operation: 'encrypt' | 'decrypt', forApplication: boolean): OpenApiOperation => ({
    operationId: operationId(operation, forApplication),
    summary:
      operation === 'encrypt'
        ? `Encrypt a value as a {cipher} value${forApplication ? " with an application's key" : ''}`
        : `Decrypt a {cipher} value${forApplication ? " with an application's key" : ''} (clients allowed every application)`,
    tags: ['encryption'],
    ...(forApplication ? { parameters: [nameParam(), profilesParam()] } : {}),
    ...securedBy(deps.security),
    requestBody: {
      required: true,
      description:
        operation === 'encrypt'
          ? 'the plain text, optionally after {key:alias}{secret:…} prefixes'
          : 'the value after {cipher}, as /encrypt answered it',
      content: { 'text/plain': { schema: { type: 'string', minLength: 1 } } },
    },
    responses: {
      200: {
        description: operation === 'encrypt' ? 'the encrypted value (without {cipher})' : 'the plain text',
        content: { 'text/plain': { schema: { type: 'string' } } },
        // What /encrypt answers, /decrypt takes back (with the same application's key).
        ...(operation === 'encrypt'
          ? {
              links: {
                Decrypt: {
                  operationId: operationId('decrypt', forApplication),
                  requestBody: '$response.body',
                  ...(forApplication
                    ? { parameters: { name: '$request.path.name', profiles: '$request.path.profiles' } }
                    : {}),
                },
              },
            }
          : {}),
      },
      400: eitherErrorResponse(
        operation === 'encrypt'
          ? 'BAD_REQUEST: nothing to encrypt; or an invalid name or profile'
          : 'INVALID: not encrypted with this key; BAD_REQUEST: only a public key is installed; or an invalid name or profile',
      ),
      ...encryptionErrorResponses([404], 'NO_KEY: no key is installed'),
      ...errorResponses([], secured),
      403: {
        description: 'a browser request for a page of another site, or a client that may not',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    },
  });
  app.get(
    '/encrypt/status',
    documented(
      {
        summary: 'Whether a key is installed for /encrypt',
        tags: ['encryption'],
        ...securedBy(deps.security),
        responses: {
          200: {
            description: '{"status":"OK"}',
            content: {
              'application/json': {
                schema: { type: 'object', required: ['status'], properties: { status: { const: 'OK' } } },
              },
            },
          },
          ...encryptionErrorResponses([404], 'NO_KEY: no key is installed'),
          ...errorResponses([], secured),
        },
      },
      (c) => {
        deps.guard(c, 'authenticated');
        requireKeys(deps.keys);
        return c.json({ status: 'OK' });
      },
    ),
  );
  app.post(
    '/encrypt',
    refusesCrossSite,
    documented(cipherOperation('encrypt', false), (c) => {
      deps.guard(c, 'authenticated');
      return encrypt(c);
    }),
  );
  app.post(
    '/encrypt/:name/:profiles',
    refusesCrossSite,
    documented(cipherOperation('encrypt', true), (c) => {
      const request = environmentRequest(c.req.param('name') ?? '', c.req.param('profiles') ?? '');
      deps.guard(c, { applications: request.applications });
      return encrypt(c);
    }),
  );
  // Decrypting any ciphertext would bypass per-application access, so only unrestricted clients may.
  app.post(
    '/decrypt',
    refusesCrossSite,
    documented(cipherOperation('decrypt', false), (c) => {
      deps.guard(c, 'unrestricted');
      return decrypt(c);
    }),
  );
  app.post(
    '/decrypt/:name/:profiles',
    refusesCrossSite,
    documented(cipherOperation('decrypt', true), (c) => {
      environmentRequest(c.req.param('name') ?? '', c.req.param('profiles') ?? '');
      deps.guard(c, 'unrestricted');
      return decrypt(c);
    }),
  );
  return app;
}
