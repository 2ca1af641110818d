import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { loadKeyChain } from '../src/load-key-chain.ts';
import { startConfigServer, tempRepo } from './helpers.ts';

const dir = tempRepo({});
afterAll(() => dir.remove());

describe('loadConfig', () => {
  it('defaults to port 8888, ./config-repo and HTTPS, and reads Spring variable names', () => {
    const config = loadConfig({ ENCRYPT_KEY: 'k', ENCRYPT_SALT: 'cafe', ENCRYPT_RSA_ALGORITHM: 'OAEP' });
    expect(config).toMatchObject({
      port: 8888,
      repo: './config-repo',
      http: false,
      encryptSalt: 'cafe',
      rsaAlgorithm: 'OAEP',
    });
    expect(loadConfig({ CONFIG_SERVER_PORT: '9999' }, ['--port', '0']).port).toBe(0);
  });

  it('refuses conflicting or unsafe settings with a message naming them and no secret', () => {
    expect(() => loadConfig({ ENCRYPT_KEY: 'top-secret', ENCRYPT_KEY_FILE: '/x' })).toThrow(/ENCRYPT_KEY_FILE/);
    expect(() => loadConfig({}, ['--http', '--host', '0.0.0.0'])).toThrow(/loopback only/);
    expect(() => loadConfig({}, ['--cert-file', 'a.pem'])).toThrow(/go together/);
    let message = '';
    try {
      loadConfig({ CONFIG_CLIENTS: 'a:tiny-pw:' });
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/invalid --clients/);
    expect(message).not.toContain('tiny-pw');
  });

  it('reads trusted proxies from CONFIG_TRUSTED_PROXIES, none when unset, naming a bad entry', () => {
    expect(loadConfig({}).proxies).toBeUndefined();
    const proxies = loadConfig({ CONFIG_TRUSTED_PROXIES: '127.0.0.1,::1,10.0.0.0/8' }).proxies;
    expect([proxies?.trusts('10.9.8.7'), proxies?.trusts('::ffff:127.0.0.1'), proxies?.trusts('192.0.2.1')]).toEqual([
      true,
      true,
      false,
    ]);
    expect(() => loadConfig({}, ['--trusted-proxies', '10.0.0.0/8,gateway'])).toThrow(
      /invalid --trusted-proxies \(CONFIG_TRUSTED_PROXIES\): "gateway"/,
    );
  });
});

describe('production without client credentials', () => {
  const production = {
    NODE_ENV: 'production',
    ENCRYPT_KEY: 'prod-key-1',
    CONFIG_BACKENDS: 'sqlite',
    CONFIG_ADMINS: 'ops:ops-secret-1:*',
  };
  const refusal =
    'with NODE_ENV=production the config server needs --clients (CONFIG_CLIENTS); set --allow-open (CONFIG_ALLOW_OPEN) only if a network boundary alone decides who may read every application and use /decrypt';

  it('refuses to start open, naming the setting and the opt-in', async () => {
    expect(() => loadConfig(production)).toThrow(refusal);
    const err = await startConfigServer({ repo: dir.root, dataDir: dir.root, env: production }).catch(
      (e: unknown) => e,
    );
    expect(String(err)).toContain(refusal);
  });

  it('starts open when opted in, or with clients, and in development as before', async () => {
    expect(loadConfig({ ...production, CONFIG_ALLOW_OPEN: 'true' }).clientEntries).toBeUndefined();
    expect(loadConfig(production, ['--allow-open']).clientEntries).toBeUndefined();
    expect(loadConfig({ ...production, CONFIG_CLIENTS: 'app:app-secret-1:*' }).clientEntries).toHaveLength(1);
    expect(loadConfig({ ...production, NODE_ENV: 'development' }).clientEntries).toBeUndefined();
    expect(loadConfig({ ENCRYPT_KEY: 'k' }).clientEntries).toBeUndefined();
    // Started for real: open in development, and in production when opted in.
    for (const env of [
      { ...production, NODE_ENV: 'development' },
      { ...production, CONFIG_ALLOW_OPEN: 'true' },
    ]) {
      const data = tempRepo({});
      const { running, url } = await startConfigServer({ repo: dir.root, dataDir: data.root, env });
      try {
        const res = await fetch(`${url}/decrypt`, { method: 'POST', body: 'not-a-cipher' });
        expect(res.status).not.toBe(401);
      } finally {
        await running.stop();
        data.remove();
      }
    }
  });
});

describe('the database settings', () => {
  const url = 'postgres://trellis:db-pass-1@127.0.0.1:5432/trellis';

  it('serve the jdbc backend from --database-url or TRELLIS_DATABASE_URL, with the write API', () => {
    const config = loadConfig({ TRELLIS_DATABASE_URL: url, CONFIG_ADMINS: 'ops:ops-secret-1:*' }, [
      '--backends',
      'jdbc',
    ]);
    expect(config).toMatchObject({ backendKinds: ['jdbc'], databaseUrl: url });
    expect(loadConfig({}, ['--backends', 'native,jdbc', '--database-url', url]).databaseUrl).toBe(url);
    // A landscape-wide URL leaves a server that serves no jdbc backend as it was.
    expect(loadConfig({ TRELLIS_DATABASE_URL: url }).backendKinds).toEqual(['native']);
  });

  it('refuse a URL that is not PostgreSQL, jdbc without a URL, and jdbc with sqlite, never showing the URL', () => {
    let message = '';
    try {
      loadConfig({ TRELLIS_DATABASE_URL: 'mysql://trellis:db-pass-1@127.0.0.1/trellis' });
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/TRELLIS_DATABASE_URL.*postgres:\/\//);
    expect(message).not.toContain('db-pass-1');
    expect(() => loadConfig({ CONFIG_BACKENDS: 'jdbc' })).toThrow(/jdbc backend needs --database-url/);
    expect(() => loadConfig({ CONFIG_BACKENDS: 'sqlite,jdbc', TRELLIS_DATABASE_URL: url })).toThrow(/one of them/);
  });
});

describe('loadKeyChain', () => {
  it('refuses a key file readable by group or others', async () => {
    const file = join(dir.root, 'key');
    writeFileSync(file, 'file-secret\n');
    chmodSync(file, 0o644);
    await expect(loadKeyChain({ encryptKeyFile: file })).rejects.toThrow(/readable by group or others.*chmod 600/);
    chmodSync(file, 0o600);
    const chain = await loadKeyChain({ encryptKeyFile: file });
    expect(chain?.decrypt(chain.encrypt('x'))).toBe('x');
  });

  it('reports an unusable key without quoting it', async () => {
    const err = await loadKeyChain({ encryptKey: 'secret-pw', encryptSalt: 'not-hex' }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/unusable/);
    expect(String(err)).not.toContain('secret-pw');
  });
});
