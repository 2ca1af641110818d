import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SettingsError, StartupError } from '@trellis/kit';
import { loadConfig } from '../src/config.ts';
import { loadKeyChain } from '../src/load-key-chain.ts';
import type { KeyChain } from '../src/cipher/index.ts';
import { startConfigServer, tempRepo, testServer, type EnvJson } from './helpers.ts';
import { keyStoreDir } from './cipher/keytool.ts';
import { captureLogger } from '../../kit/test/support/logger.ts';

const stores = keyStoreDir();
const repo = tempRepo({});
let jksPath = '';
let p12Path = '';

beforeAll(() => {
  jksPath = stores.make({
    file: 'config.jks',
    type: 'JKS',
    storePassword: 'store-pass',
    entries: [
      { alias: 'v1', keyPassword: 'key-pass' },
      { alias: 'v2', keyPassword: 'key-pass' },
      { alias: 'private', keyPassword: 'own-pass' },
    ],
  });
  p12Path = stores.make({
    file: 'config.p12',
    type: 'PKCS12',
    storePassword: 'p12-pass',
    entries: [
      { alias: 'first', keyPassword: 'p12-pass' },
      { alias: 'second', keyPassword: 'p12-pass' },
    ],
  });
}, 60_000);
afterAll(() => {
  stores.remove();
  repo.remove();
});

async function chainFrom(env: Record<string, string>): Promise<KeyChain> {
  const chain = await loadKeyChain(loadConfig(env));
  if (chain === undefined) throw new Error('no key chain');
  return chain;
}

function post(server: ReturnType<typeof testServer>, path: string, body: string) {
  return server.app.request(path, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
}

describe('key store settings (Spring encrypt.key-store.*)', () => {
  it("reads Spring's variable names, a file: location and the type in any case", () => {
    const config = loadConfig({
      ENCRYPT_KEY_STORE_LOCATION: 'file:/etc/keys/server.jks',
      ENCRYPT_KEY_STORE_PASSWORD: 'pw',
      ENCRYPT_KEY_STORE_ALIAS: 'mykey',
      ENCRYPT_KEY_STORE_SECRET: 'secret',
      ENCRYPT_KEY_STORE_TYPE: 'PKCS12',
    });
    expect(config).toMatchObject({
      keyStorePath: '/etc/keys/server.jks',
      keyStorePassword: 'pw',
      keyStoreAlias: 'mykey',
      keyStoreSecret: 'secret',
      keyStoreType: 'pkcs12',
    });
    expect(
      loadConfig({ ENCRYPT_KEY_STORE_LOCATION: 'file:///srv/k.p12', ENCRYPT_KEY_STORE_PASSWORD: 'pw' }),
    ).toMatchObject({ keyStorePath: '/srv/k.p12', keyStoreType: 'jks' });
  });

  it('takes the matching command-line flags', () => {
    const config = loadConfig({}, [
      '--encrypt-key-store-location',
      'keys/server.jks',
      '--encrypt-key-store-password',
      'pw',
      '--encrypt-key-store-alias',
      'a',
      '--encrypt-key-store-secret',
      's',
      '--encrypt-key-store-type',
      'jks',
    ]);
    expect(config).toMatchObject({ keyStorePath: 'keys/server.jks', keyStoreAlias: 'a', keyStoreSecret: 's' });
  });

  it('refuses classpath: and other resource locations with a reason, naming the setting', () => {
    for (const location of ['classpath:/server.jks', 'https://keys.example/server.jks']) {
      const err = (() => {
        try {
          loadConfig({ ENCRYPT_KEY_STORE_LOCATION: location, ENCRYPT_KEY_STORE_PASSWORD: 'pw' });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(SettingsError);
      expect((err as Error).message).toMatch(
        /^--encrypt-key-store-location \(ENCRYPT_KEY_STORE_LOCATION\): \w+: locations/,
      );
    }
  });

  it('refuses settings that cannot work together, never echoing a password', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ ENCRYPT_KEY_STORE_LOCATION: '/k.jks' }, /needs --encrypt-key-store-password \(ENCRYPT_KEY_STORE_PASSWORD\)/],
      [{ ENCRYPT_KEY_STORE_PASSWORD: 'hunter22' }, /ENCRYPT_KEY_STORE_PASSWORD\) is set but .*LOCATION\) is not/],
      [{ ENCRYPT_KEY_STORE_SECRET: 'hunter22' }, /ENCRYPT_KEY_STORE_SECRET\) is set but/],
      [
        {
          ENCRYPT_KEY_STORE_LOCATION: '/k.jks',
          ENCRYPT_KEY_STORE_PASSWORD: 'hunter22',
          ENCRYPT_KEY_STORE_TYPE: 'jceks',
        },
        /invalid ENCRYPT_KEY_STORE_TYPE: "jceks" is not jks or pkcs12/,
      ],
    ];
    for (const [env, message] of cases) {
      expect(() => loadConfig(env)).toThrow(message);
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(SettingsError);
        expect((err as Error).message).not.toContain('hunter22');
      }
    }
  });
});

describe.each([
  ['JKS', () => ({ path: jksPath, password: 'store-pass', secret: 'key-pass', aliases: ['v1', 'v2'] })],
  ['PKCS12', () => ({ path: p12Path, password: 'p12-pass', secret: undefined, aliases: ['first', 'second'] })],
] as const)('a %s key store made by keytool', (_type, store) => {
  const env = (alias: string): Record<string, string> => {
    const s = store();
    return {
      ENCRYPT_KEY_STORE_LOCATION: s.path,
      ENCRYPT_KEY_STORE_PASSWORD: s.password,
      ENCRYPT_KEY_STORE_ALIAS: alias,
      ...(s.secret === undefined ? {} : { ENCRYPT_KEY_STORE_SECRET: s.secret }),
    };
  };

  it('round-trips through /encrypt and /decrypt, labelling new values {key:alias}', async () => {
    const [first = ''] = store().aliases;
    const server = testServer(repo.root, { keys: await chainFrom(env(first)) });
    const encrypted = await (await post(server, '/encrypt', 'p4ss word')).text();
    expect(encrypted).toMatch(new RegExp(`^\\{key:${first}\\}AQ[A-Za-z0-9+/]+=*$`));
    const decrypted = await post(server, '/decrypt', encrypted);
    expect(decrypted.status).toBe(200);
    expect(await decrypted.text()).toBe('p4ss word');
  });

  it('serves {cipher} values decrypted with the key their {key:alias} names, or the default alias', async () => {
    const [first = '', second = ''] = store().aliases;
    const chain = await chainFrom(env(first));
    const bySecond = chain.encrypt('second value', { keyAlias: second });
    const byDefault = chain.encrypt('default value').replace(/^\{key:[^}]+\}/, '');
    repo.write(
      `${_type}-select.yml`,
      `a: '{cipher}${bySecond}'\nb: '{cipher}${byDefault}'\nc: '{cipher}{key:${second}}${byDefault}'\n`,
    );
    const server = testServer(repo.root, { keys: chain });
    const env_ = await server.json<EnvJson>(`/${_type}-select/default`);
    // c names the wrong key: served as invalid, like every value that does not decrypt.
    expect(env_.propertySources[0]?.source).toEqual({ a: 'second value', b: 'default value', 'invalid.c': '<n/a>' });
    const decrypted = await post(
      server,
      '/decrypt',
      `{key:${second.toUpperCase()}}${bySecond.slice(second.length + 6)}`,
    );
    expect(await decrypted.text()).toBe('second value');
  });

  it('serves a value naming an unknown alias as invalid.<key>: <n/a>, and /decrypt answers 400 INVALID', async () => {
    const [first = ''] = store().aliases;
    const chain = await chainFrom(env(first));
    const payload = chain.encrypt('x').replace(/^\{key:[^}]+\}/, '');
    repo.write(`${_type}-unknown.yml`, `password: '{cipher}{key:nope}${payload}'\n`);
    const server = testServer(repo.root, { keys: chain });
    const served = await server.json<EnvJson>(`/${_type}-unknown/default`);
    expect(served.propertySources[0]?.source).toEqual({ 'invalid.password': '<n/a>' });
    const res = await post(server, '/decrypt', `{key:nope}${payload}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ status: 'INVALID', description: 'Text not encrypted with this key' });
    const encrypt = await post(server, '/encrypt', '{key:nope}text');
    expect(encrypt.status).toBe(400);
  });

  it('answers /encrypt with a {key:alias} prefix with that key, echoing the prefix as Spring does', async () => {
    const [first = '', second = ''] = store().aliases;
    const chain = await chainFrom(env(first));
    const server = testServer(repo.root, { keys: chain });
    const encrypted = await (await post(server, '/encrypt', `{key:${second}}pinned`)).text();
    expect(encrypted.startsWith(`{key:${second}}AQ`)).toBe(true);
    expect(chain.locate(second).decrypt(encrypted.slice(second.length + 6))).toBe('pinned');
    expect(() => chain.locate(first).decrypt(encrypted.slice(second.length + 6))).toThrow();
  });

  it("serves the default alias's public key on /key", async () => {
    const [first = '', second = ''] = store().aliases;
    const chain = await chainFrom(env(first));
    const server = testServer(repo.root, { keys: chain });
    const key = await (await server.get('/key')).text();
    expect(key).toBe(chain.locate(first).kind === 'rsa' ? chain.sshPublicKey(first) : 'not rsa');
    expect(key).not.toBe(chain.sshPublicKey(second));
    expect(key).toMatch(/^ssh-rsa AAAAB3NzaC1yc2E\S+ application$/);
  });
});

describe('rotation with a key store', () => {
  it('moves new values to the new alias while values labelled with the old one keep decrypting', async () => {
    const base = {
      ENCRYPT_KEY_STORE_LOCATION: jksPath,
      ENCRYPT_KEY_STORE_PASSWORD: 'store-pass',
      ENCRYPT_KEY_STORE_SECRET: 'key-pass',
    };
    const before = await chainFrom({ ...base, ENCRYPT_KEY_STORE_ALIAS: 'v1' });
    const old = before.encrypt('written under v1');
    expect(old.startsWith('{key:v1}')).toBe(true);

    const after = await chainFrom({ ...base, ENCRYPT_KEY_STORE_ALIAS: 'v2' });
    const fresh = after.encrypt('written under v2');
    expect(fresh.startsWith('{key:v2}')).toBe(true);
    repo.write('rotated.yml', `old: '{cipher}${old}'\nnew: '{cipher}${fresh}'\n`);
    const served = await testServer(repo.root, { keys: after }).json<EnvJson>('/rotated/default');
    expect(served.propertySources[0]?.source).toEqual({ old: 'written under v1', new: 'written under v2' });
    // The new value really is under the new key only.
    expect(() => after.locate('v1').decrypt(fresh.slice('{key:v2}'.length))).toThrow();
  });
});

describe('a key store entry with a password of its own ({secret:…})', () => {
  it('is unlocked by the secret in the value, and refused without it or with a wrong one', async () => {
    const chain = await chainFrom({
      ENCRYPT_KEY_STORE_LOCATION: jksPath,
      ENCRYPT_KEY_STORE_PASSWORD: 'store-pass',
      ENCRYPT_KEY_STORE_ALIAS: 'v1',
      ENCRYPT_KEY_STORE_SECRET: 'key-pass',
    });
    const server = testServer(repo.root, { keys: chain });
    const encrypted = await (await post(server, '/encrypt', '{key:private}{secret:own-pass}guarded')).text();
    expect(encrypted.startsWith('{key:private}{secret:own-pass}AQ')).toBe(true);
    const payload = encrypted.slice('{key:private}{secret:own-pass}'.length);
    repo.write(
      'guarded.yml',
      [
        `right: '{cipher}${encrypted}'`,
        `missing: '{cipher}{key:private}${payload}'`,
        `wrong: '{cipher}{key:private}{secret:own-pasS}${payload}'`,
      ].join('\n'),
    );
    const served = await server.json<EnvJson>('/guarded/default');
    expect(served.propertySources[0]?.source).toEqual({
      right: 'guarded',
      'invalid.missing': '<n/a>',
      'invalid.wrong': '<n/a>',
    });
    expect((await post(server, '/decrypt', encrypted)).status).toBe(200);
    const wrong = await post(server, '/decrypt', `{key:private}{secret:own-pasS}${payload}`);
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).not.toContain('own-pas');
  });
});

describe('start-up with a key store', () => {
  async function startError(env: Record<string, string>): Promise<Error> {
    try {
      const { running } = await startConfigServer({ repo: repo.root, dataDir: stores.dir, env });
      await running.stop();
    } catch (err) {
      return err as Error;
    }
    throw new Error('the config server started');
  }

  const base = {
    ENCRYPT_KEY_STORE_LOCATION: '',
    ENCRYPT_KEY_STORE_PASSWORD: 'store-pass',
    ENCRYPT_KEY_STORE_ALIAS: 'v1',
  };

  it('fails on a wrong store password with one line naming the setting, never the password', async () => {
    for (const path of [jksPath, p12Path]) {
      const err = await startError({
        ...base,
        ENCRYPT_KEY_STORE_LOCATION: path,
        ENCRYPT_KEY_STORE_PASSWORD: 'Wr0ng-pass',
      });
      expect(err).toBeInstanceOf(StartupError);
      expect(err.message).toBe(
        `--encrypt-key-store-password (ENCRYPT_KEY_STORE_PASSWORD) does not open the key store ${path} (wrong password or corrupt file)`,
      );
      expect(err.message).not.toContain('Wr0ng');
    }
  });

  it('fails when the key secret does not unlock the default alias, or the alias is not in the store', async () => {
    const locked = await startError({
      ...base,
      ENCRYPT_KEY_STORE_LOCATION: jksPath,
      ENCRYPT_KEY_STORE_SECRET: 'Wr0ng-secret',
    });
    expect(locked).toBeInstanceOf(StartupError);
    expect(locked.message).toMatch(
      /^--encrypt-key-store-secret \(ENCRYPT_KEY_STORE_SECRET.*\) does not unlock the key v1/,
    );
    expect(locked.message).not.toContain('Wr0ng');
    const unknown = await startError({ ...base, ENCRYPT_KEY_STORE_LOCATION: jksPath, ENCRYPT_KEY_STORE_ALIAS: 'v3' });
    expect(unknown.message).toMatch(
      /ENCRYPT_KEY_STORE_ALIAS\) v3: .* has no key entry by that name \(it has private, v1, v2\)/,
    );
  });

  it('asks for an alias when the store holds several keys, and says when the file is missing', async () => {
    const several = await startError({ ENCRYPT_KEY_STORE_LOCATION: p12Path, ENCRYPT_KEY_STORE_PASSWORD: 'p12-pass' });
    expect(several.message).toMatch(/holds several keys \(first, second\); choose one with --encrypt-key-store-alias/);
    const missing = await startError({ ...base, ENCRYPT_KEY_STORE_LOCATION: `file:${stores.dir}/absent.jks` });
    expect(missing).toBeInstanceOf(StartupError);
    expect(missing.message).toMatch(/cannot read the key store .*absent\.jks .*\(ENOENT\)/);
  });

  it('uses the key store over an ENCRYPT_KEY set as well, as Spring does, warning without either secret', async () => {
    const { logger, text } = captureLogger('warn');
    const env = {
      ...base,
      ENCRYPT_KEY_STORE_LOCATION: jksPath,
      ENCRYPT_KEY_STORE_SECRET: 'key-pass',
      ENCRYPT_KEY: 'symmetric-hunter22',
    };
    const { running, url } = await startConfigServer({ repo: repo.root, dataDir: stores.dir, env, logger });
    try {
      const encrypted = await (await fetch(`${url}/encrypt`, { method: 'POST', body: 'carried over' })).text();
      // RSA from the store, labelled with its alias; the symmetric key would give a bare hex ciphertext.
      expect(encrypted).toMatch(/^\{key:v1\}/);
      const log = text();
      expect(log).toContain('ENCRYPT_KEY / ENCRYPT_KEY_FILE ignored');
      expect(log).not.toMatch(/hunter22|store-pass|key-pass/);
    } finally {
      await running.stop();
    }
  });

  it('starts with a good store and says which alias encrypts, without any password', async () => {
    const env = { ...base, ENCRYPT_KEY_STORE_LOCATION: jksPath, ENCRYPT_KEY_STORE_SECRET: 'key-pass' };
    const { running } = await startConfigServer({ repo: repo.root, dataDir: stores.dir, env });
    try {
      const notes = running.notes?.join('\n') ?? '';
      expect(notes).toContain(`key store ${jksPath} (2 RSA key(s), new values with {key:v1})`);
      expect(notes).not.toMatch(/store-pass|key-pass/);
    } finally {
      await running.stop();
    }
  });
});
