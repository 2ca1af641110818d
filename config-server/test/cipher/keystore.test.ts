import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKeyStore } from '../../src/cipher/index.ts';
import { exportCertificate, importCertificate, keyStoreDir } from './keytool.ts';
import { expectCipherError } from './helpers.ts';

const stores = keyStoreDir();
let jksPath = '';
let p12Path = '';
let jceksPath = '';

beforeAll(() => {
  jksPath = stores.make({
    file: 'two.jks',
    type: 'JKS',
    storePassword: 'store-pass',
    entries: [
      { alias: 'First', keyPassword: 'key-pass-1' },
      { alias: 'second', keyPassword: 'key-pass-2' },
    ],
  });
  importCertificate(jksPath, 'store-pass', 'trusted-ca', exportCertificate(jksPath, 'store-pass', 'second'));
  p12Path = stores.make({
    file: 'one.p12',
    type: 'PKCS12',
    storePassword: 'p12-pass',
    entries: [{ alias: 'MyKey', keyPassword: 'p12-pass' }],
  });
  importCertificate(p12Path, 'p12-pass', 'trusted-ca', exportCertificate(p12Path, 'p12-pass', 'mykey'));
  jceksPath = stores.make({
    file: 'old.jceks',
    type: 'JCEKS',
    storePassword: 'store-pass',
    entries: [{ alias: 'k', keyPassword: 'store-pass' }],
  });
}, 60_000);
afterAll(() => stores.remove());

/** True when the PEM is the private half of the key in keytool's certificate for that entry. */
function matchesCertificate(pem: string, certPem: string): boolean {
  const fromKey = createPublicKey(createPrivateKey(pem)).export({ format: 'jwk' });
  const fromCert = new X509Certificate(certPem).publicKey.export({ format: 'jwk' });
  return fromKey.n === fromCert.n && fromKey.e === fromCert.e;
}

describe('readKeyStore (Spring KeyStoreKeyFactory)', () => {
  describe('a JKS store made by keytool', () => {
    it('lists its private-key entries lower-cased, as Java compares aliases, without trusted certificates', () => {
      const store = readKeyStore(readFileSync(jksPath), 'store-pass');
      expect(store.format).toBe('jks');
      expect([...store.keyAliases].sort()).toEqual(['first', 'second']);
    });

    it('unlocks each entry with its own key password, in any case of the alias', () => {
      const store = readKeyStore(readFileSync(jksPath), 'store-pass');
      const first = store.privateKeyPem('FIRST', 'key-pass-1') ?? '';
      const second = store.privateKeyPem('second', 'key-pass-2') ?? '';
      expect(matchesCertificate(first, exportCertificate(jksPath, 'store-pass', 'first'))).toBe(true);
      expect(matchesCertificate(second, exportCertificate(jksPath, 'store-pass', 'second'))).toBe(true);
      expect(matchesCertificate(first, exportCertificate(jksPath, 'store-pass', 'second'))).toBe(false);
    });

    it('answers undefined for an alias without a private key', () => {
      const store = readKeyStore(readFileSync(jksPath), 'store-pass');
      expect(store.privateKeyPem('trusted-ca', 'key-pass-1')).toBeUndefined();
      expect(store.privateKeyPem('nope', 'key-pass-1')).toBeUndefined();
    });

    it('refuses a wrong store password or key password as wrong_password, naming neither', () => {
      const err = expectCipherError(() => readKeyStore(readFileSync(jksPath), 'store-pasS'), 'wrong_password');
      expect(err.message).not.toContain('store-pas');
      const store = readKeyStore(readFileSync(jksPath), 'store-pass');
      expectCipherError(() => store.privateKeyPem('first', 'key-pass-2'), 'wrong_password');
    });
  });

  describe('a PKCS12 store made by keytool (PBES2/AES, HMAC-SHA256)', () => {
    it('lists and unlocks its key with the store password', () => {
      const store = readKeyStore(readFileSync(p12Path), 'p12-pass');
      expect(store.format).toBe('pkcs12');
      expect(store.keyAliases).toEqual(['mykey']);
      const pem = store.privateKeyPem('MyKey', 'p12-pass') ?? '';
      expect(matchesCertificate(pem, exportCertificate(p12Path, 'p12-pass', 'mykey'))).toBe(true);
    });

    it('refuses a wrong store password, and a key password Java could not use', () => {
      expectCipherError(() => readKeyStore(readFileSync(p12Path), 'p12-wrong'), 'wrong_password');
      const store = readKeyStore(readFileSync(p12Path), 'p12-pass');
      expectCipherError(() => store.privateKeyPem('mykey', 'other-pass'), 'wrong_password');
    });
  });

  it('refuses JCEKS, garbage and truncated stores as invalid_key', () => {
    expectCipherError(() => readKeyStore(readFileSync(jceksPath), 'store-pass'), 'invalid_key');
    expectCipherError(() => readKeyStore(Buffer.from('not a key store'), 'x'), 'invalid_key');
    const truncated = join(stores.dir, 'truncated.p12');
    writeFileSync(truncated, readFileSync(p12Path).subarray(0, 400));
    expectCipherError(() => readKeyStore(readFileSync(truncated), 'p12-pass'), 'invalid_key');
    expectCipherError(() => readKeyStore(readFileSync(jksPath).subarray(0, 300), 'store-pass'), 'invalid_key');
  });
});
