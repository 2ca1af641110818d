// The user's own certificate and key: read, matched against each other, refused if others can read the key.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { keyMatchesCertificate } from './certificates.ts';
import { TlsError } from './errors.ts';
import { isGroupOrWorldAccessible, readRequired } from './files.ts';
import type { TlsLogger, TlsMaterial } from './types.ts';

export interface UserCertificateOptions {
  /** PEM certificate, optionally followed by the intermediates a client needs to reach its root. */
  readonly certFile: string;
  /** Unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1) of the first certificate in `certFile`. */
  readonly keyFile: string;
  /** PEM CA bundle clients should trust; omit for certificates from a CA clients already trust. */
  readonly caFile?: string;
  /** The clock for the expiry check. */
  readonly now?: Date;
  /** Hears about a key file readable by others (which is reported, not changed: the file belongs to the user). */
  readonly logger?: TlsLogger;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Loads and checks a user's own certificate and key (which replace the development ones), failing at start-up with a
 * {@link TlsError} that names the file at fault rather than at the first TLS handshake.
 *
 * @example
 * const tls = await loadUserCertificate({ certFile: '/etc/trellis/tls.crt', keyFile: '/etc/trellis/tls.key' });
 * https.createServer({ cert: tls.cert, key: tls.key }, handler);
 */
export async function loadUserCertificate(options: UserCertificateOptions): Promise<TlsMaterial> {
  const { certFile, keyFile, caFile, logger } = options;
  const now = options.now ?? new Date();
  const [certText, keyText, caText] = await Promise.all([
    readRequired(certFile, 'certificate'),
    readRequired(keyFile, 'private key'),
    caFile === undefined ? Promise.resolve(undefined) : readRequired(caFile, 'CA'),
  ]);

  const chain = parseCertificates(certText, certFile);
  const leaf = chain.certificates[0];
  if (leaf === undefined)
    throw new TlsError('invalid_certificate', `${certFile} holds no certificate`, { file: certFile });
  checkValidity(leaf, certFile, now);

  const key = parseKey(keyText, keyFile);
  if (!keyMatchesCertificate(leaf, key)) {
    throw new TlsError(
      'key_mismatch',
      `the private key in ${keyFile} does not belong to the certificate in ${certFile} (their public keys differ)`,
      { file: keyFile },
    );
  }
  if (await isGroupOrWorldAccessible(keyFile)) {
    logger?.warn({ file: keyFile }, 'private key file is readable by group or others; restrict it to 600');
  }

  const ca = caText === undefined || caFile === undefined ? undefined : parseCertificates(caText, caFile);
  return {
    certFile,
    keyFile,
    // Only the certificate blocks: a combined file may also hold the key, which must not travel as "the cert".
    cert: chain.pem,
    key: keyText,
    ...(ca === undefined || caFile === undefined ? {} : { caFile, ca: ca.pem }),
    created: false,
  };
}

interface ParsedChain {
  readonly certificates: readonly X509Certificate[];
  readonly pem: string;
}

function parseCertificates(text: string, file: string): ParsedChain {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new TlsError('invalid_certificate', `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, {
      file,
    });
  }
  const certificates = blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new TlsError('invalid_certificate', `certificate ${index + 1} in ${file} does not parse`, {
        file,
        cause: err,
      });
    }
  });
  return { certificates, pem: `${blocks.join('\n')}\n` };
}

function checkValidity(cert: X509Certificate, file: string, now: Date): void {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() < now.getTime()) {
    throw new TlsError('invalid_certificate', `the certificate in ${file} expired on ${notAfter.toISOString()}`, {
      file,
    });
  }
  if (notBefore.getTime() > now.getTime()) {
    throw new TlsError(
      'invalid_certificate',
      `the certificate in ${file} is not valid before ${notBefore.toISOString()}; check the clock`,
      { file },
    );
  }
}

function parseKey(text: string, file: string): KeyObject {
  try {
    return createPrivateKey(text);
  } catch (err) {
    // The cause is dropped on purpose: parser errors are generic, and nothing derived from key text should be logged.
    const encrypted = typeof err === 'object' && err !== null && 'code' in err && err.code === 'ERR_MISSING_PASSPHRASE';
    throw new TlsError(
      'invalid_key',
      encrypted
        ? `the private key in ${file} is encrypted; provide it unencrypted (protect it with file permissions instead)`
        : `${file} holds no readable PEM private key`,
      { file },
    );
  }
}
