import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevCertificates, loadUserCertificate, TlsError } from '../../src/tls/index.ts';
import type { DevTlsMaterial, TlsLogger } from '../../src/tls/index.ts';
import { DAY_MS, tempDirs } from './helpers.ts';

const temp = tempDirs();
let dir: string;
/** A real CA-signed certificate standing in for one a user brings (from their company CA, say). */
let issued: DevTlsMaterial;

beforeAll(async () => {
  dir = await temp.make();
  issued = await ensureDevCertificates({ dir: join(dir, 'issuer') });
});
afterAll(temp.cleanup);

async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text, { mode: 0o600 });
  return file;
}

async function rejection(promise: Promise<unknown>): Promise<TlsError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof TlsError)) throw new Error(`expected a TlsError, got ${String(err)}`);
  return err;
}

describe('loadUserCertificate', () => {
  it('loads a certificate, its key and a CA bundle that a TLS server accepts', async () => {
    const tls = await loadUserCertificate({
      certFile: issued.certFile,
      keyFile: issued.keyFile,
      caFile: issued.caFile,
    });

    expect(tls).toEqual({
      certFile: issued.certFile,
      keyFile: issued.keyFile,
      caFile: issued.caFile,
      cert: issued.cert,
      key: issued.key,
      ca: issued.ca,
      created: false,
    });
    expect(() => createSecureContext({ cert: tls.cert, key: tls.key })).not.toThrow();
  });

  it('leaves the CA out when none is given (a publicly trusted certificate)', async () => {
    const tls = await loadUserCertificate({ certFile: issued.certFile, keyFile: issued.keyFile });
    expect(tls).not.toHaveProperty('ca');
    expect(tls).not.toHaveProperty('caFile');
  });

  it('accepts a chain file and keeps only its certificates, dropping a key stored alongside', async () => {
    const combined = await write('combined.pem', `${issued.cert}${issued.ca}${issued.key}`);
    const tls = await loadUserCertificate({ certFile: combined, keyFile: issued.keyFile });

    expect(tls.cert.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    expect(tls.cert).not.toContain('PRIVATE KEY');
    expect(() => createSecureContext({ cert: tls.cert, key: tls.key })).not.toThrow();
  });

  it('answers key_mismatch naming the key file when the key belongs to another certificate', async () => {
    const caKey = join(dir, 'issuer', 'ca-key.pem');
    const err = await rejection(loadUserCertificate({ certFile: issued.certFile, keyFile: caKey }));

    expect(err.code).toBe('key_mismatch');
    expect(err.file).toBe(caKey);
    expect(err.message).toContain(caKey);
    expect(err.message).toContain(issued.certFile);
    expect(err.message).not.toMatch(/PRIVATE KEY|MII/);
  });

  it('answers unreadable_file naming a missing certificate, key or CA file', async () => {
    const missing = join(dir, 'nope', 'tls.crt');
    const cases = [
      { certFile: missing, keyFile: issued.keyFile },
      { certFile: issued.certFile, keyFile: missing },
      { certFile: issued.certFile, keyFile: issued.keyFile, caFile: missing },
    ];
    for (const options of cases) {
      const err = await rejection(loadUserCertificate(options));
      expect(err.code).toBe('unreadable_file');
      expect(err.file).toBe(missing);
      expect(err.message).toContain(missing);
      expect(err.message).toContain('does not exist');
    }
  });

  it('answers invalid_certificate naming a file without a parsable certificate', async () => {
    const notPem = await write('not-pem.crt', 'hello');
    const broken = await write('broken.crt', issued.cert.replace(/[A-Za-z]{8}/, 'AAAAAAAA!'));
    for (const certFile of [notPem, broken]) {
      const err = await rejection(loadUserCertificate({ certFile, keyFile: issued.keyFile }));
      expect(err.code).toBe('invalid_certificate');
      expect(err.file).toBe(certFile);
      expect(err.message).toContain(certFile);
    }
  });

  it('answers invalid_key for a key file that holds no key, and says so for an encrypted one', async () => {
    const certAsKey = await rejection(loadUserCertificate({ certFile: issued.certFile, keyFile: issued.caFile }));
    expect(certAsKey.code).toBe('invalid_key');
    expect(certAsKey.file).toBe(issued.caFile);

    const encryptedPem = createPrivateKey(issued.key)
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
      .toString();
    const encryptedFile = await write('encrypted.key', encryptedPem);
    const encrypted = await rejection(loadUserCertificate({ certFile: issued.certFile, keyFile: encryptedFile }));
    expect(encrypted.code).toBe('invalid_key');
    expect(encrypted.message).toContain('encrypted');
    expect(encrypted.message).not.toContain('MII');
  });

  it('refuses an expired certificate, naming the file and the date', async () => {
    const err = await rejection(
      loadUserCertificate({
        certFile: issued.certFile,
        keyFile: issued.keyFile,
        now: new Date(Date.now() + 400 * DAY_MS),
      }),
    );
    expect(err.code).toBe('invalid_certificate');
    expect(err.message).toMatch(
      new RegExp(`${issued.certFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} expired on \\d{4}-`),
    );
  });

  it.skipIf(process.platform === 'win32')(
    'warns about a key others can read without changing the user’s file',
    async () => {
      const keyFile = await write('loose.key', await readFile(issued.keyFile, 'utf8'));
      await chmod(keyFile, 0o644);
      const warned: Array<Record<string, unknown>> = [];
      const logger: TlsLogger = { warn: (obj) => warned.push(obj) };

      await loadUserCertificate({ certFile: issued.certFile, keyFile, logger });
      expect(warned).toEqual([{ file: keyFile }]);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o644);
    },
  );
});

function opensslEcPair(keyFile: string, certFile: string): Promise<boolean> {
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  return new Promise((resolve) => {
    execFile(
      'openssl',
      [...args, '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-days', '2'],
      { timeout: 10_000 },
      (err) => resolve(err === null),
    );
  });
}

describe('loadUserCertificate with a non-RSA key', () => {
  it('accepts an ECDSA certificate (common from ACME CAs), which forge cannot parse', async (ctx) => {
    const keyFile = join(dir, 'ec.key');
    const certFile = join(dir, 'ec.crt');
    // openssl only makes the fixture; without it there is nothing to load.
    if (!(await opensslEcPair(keyFile, certFile))) ctx.skip();

    const tls = await loadUserCertificate({ certFile, keyFile });
    expect(tls.key).toContain('PRIVATE KEY');
    const other = await rejection(loadUserCertificate({ certFile, keyFile: issued.keyFile }));
    expect(other.code).toBe('key_mismatch');
  });
});
