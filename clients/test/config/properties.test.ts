import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigClientError } from '../../src/config/errors.ts';
import { ConfigProperties, mergePropertySources, type RawEnvironment } from '../../src/config/properties.ts';
import { isSecretProperty, Secret } from '../../src/config/secret.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';

function env(sources: Record<string, Record<string, string | number | boolean>>): RawEnvironment {
  return {
    name: 'product',
    profiles: ['docker'],
    label: null,
    version: 'v1',
    state: null,
    propertySources: Object.entries(sources).map(([name, source]) => ({ name, source })),
  };
}

const sample = new ConfigProperties(
  env({
    'file:repo/product-docker.yml': { 'server.port': 7001, 'db.host': 'mongodb', 'db.password': 'pw-docker' },
    'file:repo/product.yml': { 'server.port': 8080, 'db.host': 'localhost', 'feature.enabled': 'on' },
    'file:repo/application.yml': {
      shared: 'from-app',
      'servers[0]': 'a',
      'servers[1]': 'b',
      'csv.list': 'x, y ,z',
      'empty.list': '',
      'timeout.ms': '250',
      'bad.number': '12px',
      'bad.flag': 'maybe',
      'resilience4j.circuitbreaker.instances.product.sliding-window-size': 10,
      'resilience4j.circuitbreaker.instances.product.record-exceptions[0]': 'java.io.IOException',
      'resilience4j.circuitbreaker.instances.product.record-exceptions[1]': 'TimeoutException',
      'resilience4j.circuitbreaker.instances.review.failure-rate-threshold': 50,
      'resilience4j.retry.max-attempts': 3,
    },
  }),
);

describe('mergePropertySources', () => {
  it('lets the first source holding a key win, in the server order', () => {
    const merged = mergePropertySources(
      env({ first: { a: 1, b: 'first' }, second: { b: 'second', c: true }, third: { c: false, d: 'x' } })
        .propertySources,
    );
    expect(Object.fromEntries(merged)).toEqual({ a: 1, b: 'first', c: true, d: 'x' });
  });

  it('takes a list whole from the first source that has it, as Spring Boot binds lists', () => {
    const merged = mergePropertySources(
      env({
        profile: { 'hosts[0]': 'p0', 'hosts[1]': 'p1', names: 'x,y' },
        base: { 'hosts[0]': 'b0', 'hosts[1]': 'b1', 'hosts[2]': 'b2', 'names[0]': 'n0', other: 1 },
      }).propertySources,
    );
    expect(Object.fromEntries(merged)).toEqual({ 'hosts[0]': 'p0', 'hosts[1]': 'p1', names: 'x,y', other: 1 });
  });
});

describe('ConfigProperties typed getters', () => {
  it('reads strings, numbers and booleans with the profile source first', () => {
    expect(sample.getNumber('server.port')).toBe(7001);
    expect(sample.getString('server.port')).toBe('7001');
    expect(sample.getString('db.host')).toBe('mongodb');
    expect(sample.getNumber('timeout.ms')).toBe(250);
    expect(sample.getBoolean('feature.enabled')).toBe(true);
    expect(sample.get('shared')).toBe('from-app');
    expect(sample.propertySources).toEqual([
      'file:repo/product-docker.yml',
      'file:repo/product.yml',
      'file:repo/application.yml',
    ]);
  });

  it('answers defaults for missing keys and names the key when none is given', () => {
    expect(sample.getString('nope', 'fallback')).toBe('fallback');
    expect(sample.getNumber('nope', 3)).toBe(3);
    expect(sample.getBoolean('nope', false)).toBe(false);
    expect(sample.getList('nope', ['d'])).toEqual(['d']);
    expect(() => sample.getString('mongo.uri')).toThrow(ConfigClientError);
    expect(() => sample.getNumber('mongo.port')).toThrow(/required configuration key mongo\.port \(a number\)/);
    expect(() => sample.getBoolean('missing.flag')).toThrow(
      expect.objectContaining({ name: 'ConfigClientError', code: 'missing_key', key: 'missing.flag' }),
    );
  });

  it('refuses values of the wrong type with the key and the value', () => {
    expect(() => sample.getNumber('bad.number')).toThrow('bad.number must be a number, not "12px"');
    expect(() => sample.getBoolean('bad.flag')).toThrow(/bad\.flag must be a boolean/);
    expect(() => sample.getNumber('db.host', 1)).toThrow(expect.objectContaining({ code: 'invalid_value' }));
  });

  it('reads lists from indexed keys and from comma-separated text', () => {
    expect(sample.getList('servers')).toEqual(['a', 'b']);
    expect(sample.getList('csv.list')).toEqual(['x', 'y', 'z']);
    expect(sample.getList('empty.list')).toEqual([]);
    expect(() => sample.getList('no.list')).toThrow(expect.objectContaining({ code: 'missing_key' }));
  });

  it('reads a prefix as a nested object for modules such as resilience', () => {
    expect(sample.getObject('resilience4j.circuitbreaker.instances')).toEqual({
      product: { 'sliding-window-size': 10, 'record-exceptions': ['java.io.IOException', 'TimeoutException'] },
      review: { 'failure-rate-threshold': 50 },
    });
    expect(sample.getObject('resilience4j.retry')).toEqual({ 'max-attempts': 3 });
    expect(sample.getObject('nothing.here')).toEqual({});
    // `db` holds a secret: it stays wrapped inside the object.
    expect(sample.getObject('db')['password']).toBeInstanceOf(Secret);
  });
});

describe('secrets', () => {
  it.each([
    ['spring.datasource.password', true],
    ['db.pwd', true],
    ['oauth.client.clientSecret', true],
    ['oauth.client.client-secret', true],
    ['api.api-key', true],
    ['encrypt.key', true],
    ['github.accessToken', true],
    ['dbpassword', true],
    ['aws.credentials.id', true],
    ['http.authorization', true],
    ['passwords[0]', false],
    ['tokens.password[1]', true],
    ['server.port', false],
    ['auth.token-uri', false],
    ['cache.monkey', false],
    ['key-store-type', false],
    ['spring.application.name', false],
  ])('isSecretProperty(%s) is %s', (key, expected) => {
    expect(isSecretProperty(key, 'value')).toBe(expected);
  });

  it('treats URLs with a password in their user info as secrets, and honours extra secretKeys', () => {
    expect(isSecretProperty('spring.rabbitmq.addresses', 'amqp://guest:guest@rabbit:5672')).toBe(true);
    expect(isSecretProperty('spring.rabbitmq.addresses', 'amqp://rabbit:5672')).toBe(false);
    expect(isSecretProperty('greeting', 'hello', ['greeting'])).toBe(true);
    expect(isSecretProperty('app.greeting', 'hello', [/greet/])).toBe(true);
    expect(isSecretProperty('app.farewell', 'bye', [/greet/])).toBe(false);
  });

  it('never shows a secret through toString, JSON, inspect or template literals', () => {
    const secret = new Secret('hunter2');
    expect(secret.reveal()).toBe('hunter2');
    expect(String(secret)).toBe('[secret]');
    // Template literals are how secrets most often slip into messages.
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions
    expect(`${secret}`).toBe('[secret]');
    expect(JSON.stringify({ secret })).toBe('{"secret":"[secret]"}');
    expect(inspect({ secret }, { depth: 5 })).not.toContain('hunter2');
    expect(Object.keys(secret)).toEqual([]);
    expect(secret.equals(new Secret('hunter2'))).toBe(true);
    expect(secret.equals(new Secret('other'))).toBe(false);
  });

  it('makes plain getters refuse secrets and getSecret hand them out', () => {
    expect(sample.get('db.password')).toBeInstanceOf(Secret);
    expect(() => sample.getString('db.password')).toThrow(/db\.password is a secret; read it with getSecret/);
    expect(sample.getSecret('db.password').reveal()).toBe('pw-docker');
    expect(sample.getSecret('db.host').reveal()).toBe('mongodb');
  });

  it('keeps secret values out of everything the kit logger writes about the configuration', () => {
    const capture = captureLogger();
    capture.logger.info({ config: sample }, 'config');
    capture.logger.info({ properties: Object.fromEntries(sample.keys().map((k) => [k, sample.get(k)])) }, 'values');
    capture.logger.info({ object: sample.getObject('db') }, 'object');
    const text = capture.text();
    expect(text).not.toContain('pw-docker');
    expect(text).toContain('mongodb');
    expect(text).toContain('[secret]');
    expect(inspect(sample, { depth: 10 })).not.toContain('pw-docker');
    expect(JSON.stringify(sample)).not.toContain('pw-docker');
  });
});

describe('ConfigProperties.diff', () => {
  it('names keys added, removed and changed, secrets compared by value', () => {
    const before = new ConfigProperties(env({ s: { a: 1, b: 'x', 'db.password': 'one', gone: true } }));
    const after = new ConfigProperties(env({ s: { a: 1, b: 'y', 'db.password': 'two', fresh: 'new' } }));
    expect(after.diff(before)).toEqual({ added: ['fresh'], removed: ['gone'], changed: ['b', 'db.password'] });
    expect(before.diff(before)).toEqual({ added: [], removed: [], changed: [] });
  });

  it('lists keys the server could not decrypt', () => {
    const props = new ConfigProperties(env({ s: { 'invalid.db.password': '<n/a>', ok: 1 } }));
    expect(props.undecryptable).toEqual(['db.password']);
  });
});

describe('values the server says it decrypted', () => {
  const sources = (decryptedInProfile: boolean) =>
    new ConfigProperties({
      name: 'product',
      profiles: ['docker'],
      label: null,
      version: null,
      state: null,
      propertySources: [
        {
          name: 'file:repo/product-docker.yml',
          source: { greeting: 'from a cipher', motd: 'plain override' },
          ...(decryptedInProfile ? { decrypted: ['greeting'] } : {}),
        },
        {
          name: 'file:repo/application.yml',
          source: { motd: 'was a cipher', banner: 'was a cipher too' },
          decrypted: ['motd', 'banner'],
        },
      ],
    });

  it('are secrets whatever their names, taken from the source that wins the merge', () => {
    const config = sources(true);
    expect(config.get('greeting')).toBeInstanceOf(Secret);
    expect(config.getSecret('greeting').reveal()).toBe('from a cipher');
    expect(config.get('banner')).toBeInstanceOf(Secret);
    // motd's winning value is a plain one from the profile source, so it is not a secret.
    expect(config.getString('motd')).toBe('plain override');
    expect(JSON.stringify(config)).not.toContain('cipher');
    expect(inspect(config)).not.toContain('from a cipher');
  });

  it('fall back to the name rule when the source does not say (a Spring server)', () => {
    expect(sources(false).get('greeting')).toBe('from a cipher');
  });
});
