import { describe, expect, it } from 'vitest';
import {
  environmentPath,
  parseConfigUris,
  parseDecryptedHeader,
  readEnvironment,
  retryAfterMs,
  statusError,
} from '../../src/config/http.ts';

describe('environmentPath', () => {
  it('joins profiles with commas and sends a / in a label as (_) the way Spring does', () => {
    expect(environmentPath('product', ['default'])).toBe('product/default');
    expect(environmentPath('product', ['docker', 'kafka'], 'main')).toBe('product/docker,kafka/main');
    expect(environmentPath('product', ['docker'], 'feature/x')).toBe('product/docker/feature(_)x');
    expect(environmentPath('my app', ['dev'], 'a b')).toBe('my%20app/dev/a%20b');
  });
});

describe('parseConfigUris', () => {
  it('turns user info into Basic credentials and keeps it out of the URL', () => {
    const [first, second] = parseConfigUris('https://user:p%40ss@cfg1:8888/, https://cfg2:8888/config');
    expect(first?.url).toBe('https://cfg1:8888');
    expect(Buffer.from(first?.basic ?? '', 'base64').toString()).toBe('user:p@ss');
    expect(second).toEqual({ url: 'https://cfg2:8888/config', basic: undefined });
  });

  it('rejects non-URLs without echoing credentials', () => {
    expect(() => parseConfigUris('ftp://x')).toThrow(/must be http or https/);
    expect(() => parseConfigUris('')).toThrow(/no config server URI/);
    expect(() => parseConfigUris('not a url')).toThrow(expect.objectContaining({ code: 'invalid_options' }));
  });
});

describe('readEnvironment', () => {
  it('reads the plain and the v2 {value, origin} shapes alike', () => {
    const body = JSON.stringify({
      name: 'product',
      profiles: ['default'],
      label: null,
      version: 'abc',
      state: null,
      propertySources: [{ name: 's', source: { a: 1, b: { value: 'x', origin: '1:2' }, c: null, d: [1] } }],
    });
    const env = readEnvironment(body, 'https://cfg', 'GET /product/default');
    expect(env.version).toBe('abc');
    expect(env.propertySources[0]?.source).toEqual({ a: 1, b: 'x', c: '' });
  });

  it('refuses an answer that is not an Environment, naming the server', () => {
    expect(() => readEnvironment('<html>', 'https://cfg', 'GET /p/d')).toThrow(
      'config server https://cfg answered GET /p/d with a body that is not JSON',
    );
    expect(() => readEnvironment('{"a":1}', 'https://cfg', 'GET /p/d')).toThrow(/no propertySources/);
  });
});

describe('statusError', () => {
  it('carries the status and the server description', () => {
    const err = statusError(404, '{"status":404,"message":"No such label: nope"}', 'https://cfg', 'GET /p/d/nope');
    expect(err.code).toBe('not_found');
    expect(err.message).toBe('config server https://cfg answered HTTP 404 to GET /p/d/nope: No such label: nope');
    expect(statusError(503, 'down', 'https://cfg', 'x').code).toBe('server_error');
    expect(statusError(400, '', 'https://cfg', 'x').retryable).toBe(false);
    expect(statusError(502, '', 'https://cfg', 'x').retryable).toBe(true);
  });
});

describe('parseDecryptedHeader (x-trellis-decrypted)', () => {
  it('reads index=key pairs with percent-encoded keys, and undefined when the header is absent', () => {
    expect(parseDecryptedHeader('0=db.password,1=odd%2Ckey%3D1,1=greeting')).toEqual(
      new Map([
        [0, ['db.password']],
        [1, ['odd,key=1', 'greeting']],
      ]),
    );
    expect(parseDecryptedHeader('')).toEqual(new Map());
    expect(parseDecryptedHeader(undefined)).toBeUndefined();
  });

  it('skips malformed pairs instead of failing the fetch', () => {
    expect(parseDecryptedHeader('x=a,0=,=b,1=%E0%A4%A,2=ok')).toEqual(new Map([[2, ['ok']]]));
  });

  it('marks the listed keys of each source when reading the Environment', () => {
    const body = JSON.stringify({
      name: 'product',
      profiles: ['docker'],
      propertySources: [
        { name: 'a', source: { greeting: 'hi', port: 1 } },
        { name: 'b', source: { greeting: 'old' } },
      ],
    });
    const env = readEnvironment(body, 'https://cfg', 'GET /product/docker', parseDecryptedHeader('1=greeting,0=gone'));
    expect(env.propertySources[0]?.decrypted).toBeUndefined();
    expect(env.propertySources[1]?.decrypted).toEqual(['greeting']);
  });
});

describe('retryAfterMs', () => {
  it('reads delay-seconds and HTTP dates, and nothing else', () => {
    const now = Date.parse('2026-12-05T12:00:00Z');
    expect(retryAfterMs('30', now)).toBe(30_000);
    expect(retryAfterMs(['5', '9'], now)).toBe(5000);
    expect(retryAfterMs('Sat, 05 Dec 2026 12:00:10 GMT', now)).toBe(10_000);
    expect(retryAfterMs('Sat, 05 Dec 2026 11:00:00 GMT', now)).toBe(0);
    for (const bad of [undefined, '', 'soon', '-5', '1.5']) expect(retryAfterMs(bad, now)).toBeUndefined();
  });
});
