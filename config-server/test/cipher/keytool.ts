import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyStoreSpec {
  readonly file: string;
  readonly type: 'JKS' | 'PKCS12' | 'JCEKS';
  readonly storePassword: string;
  /** keytool refuses a PKCS12 key password other than the store password. */
  readonly entries: readonly { readonly alias: string; readonly keyPassword: string }[];
}

/** A temporary directory for key stores made by the JDK's own keytool, as users make them for Spring. */
export function keyStoreDir(): { dir: string; make(spec: KeyStoreSpec): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'keystores-'));
  return {
    dir,
    make(spec) {
      const path = join(dir, spec.file);
      for (const entry of spec.entries) {
        execFileSync(
          'keytool',
          [
            '-genkeypair',
            ...['-keyalg', 'RSA', '-keysize', '2048', '-dname', `CN=${entry.alias}`],
            ...['-storetype', spec.type, '-keystore', path, '-storepass', spec.storePassword],
            ...['-alias', entry.alias, '-keypass', entry.keyPassword],
          ],
          { stdio: 'ignore' },
        );
      }
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The certificate of an entry as keytool exports it (PEM), to check we took the key that belongs to it. */
export function exportCertificate(path: string, storePassword: string, alias: string): string {
  return execFileSync(
    'keytool',
    ['-exportcert', '-rfc', '-keystore', path, '-storepass', storePassword, '-alias', alias],
    {
      encoding: 'utf8',
      // keytool's advice to migrate JKS stores goes to stderr; keep the test output clean.
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
}

/** Adds a trusted-certificate entry (no private key) to a store. */
export function importCertificate(path: string, storePassword: string, alias: string, certPem: string): void {
  execFileSync(
    'keytool',
    ['-importcert', '-noprompt', '-keystore', path, '-storepass', storePassword, '-alias', alias],
    {
      input: certPem,
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
}
