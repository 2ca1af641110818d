// The development CA and the server certificates it issues, made and checked with node-forge, loaded on use.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type Forge from 'node-forge';
import { canonicalIp } from './names.ts';
import type { SubjectNames } from './names.ts';

const require = createRequire(import.meta.url);

/**
 * node-forge, loaded when a development certificate is made or checked: it takes some 50 ms to load, which a server
 * with its user's certificate, or without TLS, need not pay. require() keeps the module once loaded.
 */
function loadForge(): typeof Forge {
  return require('node-forge') as typeof Forge;
}

const DAY_MS = 86_400_000;
/** Long enough that users trust the CA once per machine, short enough that a forgotten one eventually dies. */
export const CA_LIFETIME_DAYS = 3650;
/** Browsers (Apple first, the CA/B forum after) refuse leaf certificates valid for more than 398 days. */
export const SERVER_LIFETIME_DAYS = 365;
/** Re-issue this long before expiry so a long-running dev server never crosses the expiry date mid-session. */
export const RENEW_BEFORE_DAYS = 30;
/** Backdating covers machines on the LAN whose clocks run a little behind the issuing one. */
const BACKDATE_MS = 60 * 60 * 1000;

const ORGANIZATION = 'Trellis development';

export interface PemPair {
  readonly certPem: string;
  /** PKCS#8 PEM, the form Node, OpenSSL, Java and Go all read. */
  readonly keyPem: string;
}

interface RsaKeyPairPem {
  readonly publicKey: string;
  readonly privateKey: string;
}

function generateRsaKeyPair(): RsaKeyPairPem {
  // OpenSSL's generator via node:crypto takes milliseconds; forge's pure-JS one takes seconds for 2048 bits.
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/**
 * 127 random bits as hex. DER integers are signed, so the top bit of the first byte is cleared (positive) and the
 * next one set (minimally encoded, which strict parsers demand); RFC 5280 asks for unpredictable serials.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x40 | ((bytes[0] ?? 0) & 0x3f);
  return bytes.toString('hex');
}

function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}

/** Creates a self-signed CA that may sign leaf certificates only (pathLen 0): it is never meant to grow a hierarchy. */
export function createDevCa(now: Date): PemPair {
  const forge = loadForge();
  const keys = generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  cert.validity.notAfter = addDays(now, CA_LIFETIME_DAYS);
  // A random suffix tells two machines' CAs apart in a trust store, where users have to find and remove them.
  const subject = [
    { name: 'commonName', value: `Trellis Development CA ${randomBytes(4).toString('hex')}` },
    { name: 'organizationName', value: ORGANIZATION },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', critical: true, cA: true, pathLenConstraint: 0 },
    { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKey), forge.md.sha256.create());
  return { certPem: toPem(cert), keyPem: keys.privateKey };
}

export interface IssueServerOptions {
  readonly ca: PemPair;
  readonly names: SubjectNames;
  readonly now: Date;
}

/** Issues a TLS server certificate for `names`, signed by the development CA, never outliving it. */
export function issueServerCertificate(options: IssueServerOptions): PemPair {
  const forge = loadForge();
  const caCert = forge.pki.certificateFromPem(options.ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(options.ca.keyPem);
  const keys = generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(options.now.getTime() - BACKDATE_MS);
  const wanted = addDays(options.now, SERVER_LIFETIME_DAYS);
  // Past the CA's own expiry the chain is invalid anyway; capping keeps the reported expiry honest.
  cert.validity.notAfter = wanted < caCert.validity.notAfter ? wanted : caCert.validity.notAfter;
  cert.setSubject([
    // Clients match on subjectAltName only; the common name is for humans reading the certificate.
    { name: 'commonName', value: 'localhost' },
    { name: 'organizationName', value: ORGANIZATION },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', critical: true, cA: false },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...options.names.dns.map((value) => ({ type: 2, value })),
        ...options.names.ips.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: subjectKeyIdentifierBytes(caCert) },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: toPem(cert), keyPem: keys.privateKey };
}

/** forge writes CRLF line ends; LF matches what OpenSSL and Node write, so files diff and concatenate cleanly. */
function toPem(cert: Forge.pki.Certificate): string {
  return loadForge().pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

function subjectKeyIdentifierBytes(cert: Forge.pki.Certificate): string {
  const ext: unknown = cert.getExtension('subjectKeyIdentifier');
  if (typeof ext === 'object' && ext !== null && 'subjectKeyIdentifier' in ext) {
    const hex = ext.subjectKeyIdentifier;
    if (typeof hex === 'string') return loadForge().util.hexToBytes(hex);
  }
  return cert.generateSubjectKeyIdentifier().getBytes();
}

/** Why stored material cannot be reused; logged so users see why their certificate changed. */
export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: Verdict = { ok: true };

function fail(reason: string): Verdict {
  return { ok: false, reason };
}

/** Compares the SubjectPublicKeyInfo of the certificate with the one derived from the private key. */
export function keyMatchesCertificate(cert: X509Certificate, key: KeyObject): boolean {
  const fromCert = cert.publicKey.export({ type: 'spki', format: 'der' });
  const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return fromCert.equals(fromKey);
}

function parseX509(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function parsePrivateKey(pem: string): KeyObject | undefined {
  try {
    return createPrivateKey(pem);
  } catch {
    return undefined;
  }
}

function parseForge(pem: string): Forge.pki.Certificate | undefined {
  try {
    return loadForge().pki.certificateFromPem(pem);
  } catch {
    return undefined;
  }
}

function freshness(cert: Forge.pki.Certificate, now: Date): Verdict {
  if (cert.validity.notBefore.getTime() > now.getTime()) return fail('it is not valid yet');
  if (cert.validity.notAfter.getTime() - now.getTime() <= RENEW_BEFORE_DAYS * DAY_MS) {
    return fail(`it expires within ${RENEW_BEFORE_DAYS} days (${cert.validity.notAfter.toISOString()})`);
  }
  return OK;
}

/** Whether a stored CA pair can go on signing: it parses, is a CA, matches its key and has time left. */
export function checkDevCa(ca: PemPair, now: Date): Verdict {
  const x509 = parseX509(ca.certPem);
  const forgeCert = parseForge(ca.certPem);
  if (x509 === undefined || forgeCert === undefined) return fail('the CA certificate does not parse');
  if (!x509.ca) return fail('the CA certificate is not a CA');
  const key = parsePrivateKey(ca.keyPem);
  if (key === undefined) return fail('the CA key does not parse');
  if (!keyMatchesCertificate(x509, key)) return fail('the CA key does not belong to the CA certificate');
  return freshness(forgeCert, now);
}

export interface CheckServerOptions {
  readonly server: PemPair;
  readonly caCertPem: string;
  readonly names: SubjectNames;
  readonly now: Date;
}

/** Whether a stored server pair can be served again: signed by this CA, matching key, all names, time left. */
export function checkServerCertificate(options: CheckServerOptions): Verdict {
  const x509 = parseX509(options.server.certPem);
  const forgeCert = parseForge(options.server.certPem);
  const ca = parseX509(options.caCertPem);
  if (x509 === undefined || forgeCert === undefined || ca === undefined) return fail('the certificate does not parse');
  // checkIssued compares names and key ids; verify checks the signature itself.
  if (!x509.checkIssued(ca) || !x509.verify(ca.publicKey)) return fail('it is not signed by the current CA');
  const key = parsePrivateKey(options.server.keyPem);
  if (key === undefined) return fail('the key does not parse');
  if (!keyMatchesCertificate(x509, key)) return fail('the key does not belong to the certificate');
  const missing = missingNames(forgeCert, options.names);
  if (missing.length > 0) return fail(`it does not cover ${missing.join(', ')}`);
  return freshness(forgeCert, options.now);
}

interface AltName {
  readonly type: number;
  readonly value?: unknown;
  readonly ip?: unknown;
}

function altNamesOf(cert: Forge.pki.Certificate): readonly AltName[] {
  const ext: unknown = cert.getExtension('subjectAltName');
  if (typeof ext !== 'object' || ext === null || !('altNames' in ext) || !Array.isArray(ext.altNames)) return [];
  return (ext.altNames as unknown[]).filter(
    (n): n is AltName => typeof n === 'object' && n !== null && 'type' in n && typeof n.type === 'number',
  );
}

function missingNames(cert: Forge.pki.Certificate, names: SubjectNames): string[] {
  const dns = new Set<string>();
  const ips = new Set<string>();
  for (const alt of altNamesOf(cert)) {
    if (alt.type === 2 && typeof alt.value === 'string') dns.add(alt.value.toLowerCase());
    if (alt.type === 7 && typeof alt.ip === 'string') {
      const ip = canonicalIp(alt.ip);
      if (ip !== undefined) ips.add(ip);
    }
  }
  return [...names.dns.filter((n) => !dns.has(n)), ...names.ips.filter((ip) => !ips.has(ip))];
}
