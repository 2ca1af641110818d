// Secret, the wrapper that keeps a configuration value out of logs, and the rule for which keys are secret.
import { SENSITIVE_KEYS } from '@trellis/kit';

const MASK = '[secret]';
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * A configuration value that must never reach a log line, a response or an error message. The value is held in a
 * private field, so `JSON.stringify`, `util.inspect`, `console.log`, template literals, pino and `Object.entries` all
 * see `[secret]`; only `reveal()` gives it out, which makes every use greppable.
 *
 * @example
 * const pool = createPool({ user: config.getString('db.user'), password: config.getSecret('db.password').reveal() });
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The value in clear. Hand it straight to the driver or client that needs it; do not store or log it. */
  reveal(): string {
    return this.#value;
  }

  /** Compares without revealing (the diff of two configurations needs it). */
  equals(other: Secret): boolean {
    return other.#value === this.#value;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [INSPECT](): string {
    return `Secret(${MASK})`;
  }
}

/** Last words of a key's last segment that name a secret (Spring Boot's sanitizer list, split into words). */
const SECRET_WORDS: ReadonlySet<string> = new Set([
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'secret',
  'token',
  'key',
  'apikey',
  'credential',
  'credentials',
]);
/** Endings that name a secret even when glued to the word before (`dbpassword`, `clientsecret`, `accesstoken`). */
const SECRET_ENDINGS = /(password|passwd|passphrase|secret|token)$/;
/** A URL carrying a password in its user info (`amqp://user:pw@host`): Spring Boot masks these too. */
const URL_WITH_PASSWORD = /^[a-z][a-z\d+.-]*:\/\/[^/?#@\s]*:[^/?#@\s]+@/i;

/** The last segment of `a.b[0].clientSecret` without indices: `clientSecret`. */
function lastSegment(key: string): string {
  const bare = key.replace(/\[\d+\]/g, '');
  return bare.slice(bare.lastIndexOf('.') + 1);
}

function words(segment: string): string[] {
  return segment
    .replace(/([a-z\d])([A-Z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter((w) => w !== '')
    .map((w) => w.toLowerCase());
}

/**
 * The secret rule. A property is a secret when
 * 1. the last segment of its key names one: its last word is password, passwd, pwd, passphrase, secret, token, key,
 *    apikey, credential(s) (`db.password`, `api-key`, `oauth.clientSecret`, `encrypt.key`), it ends with password,
 *    secret, token or passphrase (`dbpassword`), or it is one of the kit logger's sensitive keys
 *    (`authorization`, `cookie`…); or the whole key contains `credentials` (`aws.credentials.id`); or
 * 2. its value is a URL with a password in its user info; or
 * 3. it matches one of the caller's `secretKeys` (an exact key or a RegExp tested on the whole key).
 *
 * Values the server decrypted from `{cipher}` values are secrets besides this rule, whatever their names, when the
 * server says which they were: a Trellis config server lists them in a response header (`x-trellis-decrypted`), which
 * Spring clients ignore. Spring's own server and its Environment JSON (plain or v2) do not say, so against it this
 * name rule is all there is (the convention Spring Boot's own sanitizer relies on), and a `{cipher}` value under a
 * neutral name needs `secretKeys`.
 *
 * @example
 * isSecretProperty('spring.datasource.password', 'x'); // true
 * isSecretProperty('server.port', 8080); // false
 * isSecretProperty('greeting', 'hi', [/^greeting$/]); // true
 */
export function isSecretProperty(
  key: string,
  value: string | number | boolean,
  secretKeys: readonly (string | RegExp)[] = [],
): boolean {
  const segment = lastSegment(key);
  const lower = segment.toLowerCase();
  const last = words(segment).at(-1);
  if (last !== undefined && SECRET_WORDS.has(last)) return true;
  if (
    SECRET_ENDINGS.test(lower.replace(/[_-]/g, '')) ||
    key.toLowerCase().includes('credentials') ||
    SENSITIVE_KEYS.has(lower)
  ) {
    return true;
  }
  if (typeof value === 'string' && URL_WITH_PASSWORD.test(value)) return true;
  return secretKeys.some((k) => (typeof k === 'string' ? k === key : k.test(key)));
}
