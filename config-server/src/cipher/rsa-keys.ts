// RSA key material as Spring's RsaKeyHelper reads it, plus PKCS#8 (which Spring does not read but every tool writes).
import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { decodeBase64 } from './encoding.ts';
import { CipherError } from './errors.ts';

// The PEM body is collected by hand rather than handed to OpenSSL, because Spring tolerates the shapes YAML and
// .properties files produce: lines re-indented, or all newlines stripped (EncryptorFactory removes "\n *").

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const SSH_RSA = 'ssh-rsa';

interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1] ?? '';
    const body = match[2] ?? '';
    // "Proc-Type: 4,ENCRYPTED" headers mean a passphrase-protected key; we have no passphrase to offer.
    if (body.includes(':')) throw new CipherError('invalid_key', 'Encrypted PEM keys are not supported');
    const der = decodeBase64(body.replace(/\s+/g, ''));
    if (der === undefined || der.length === 0) throw new CipherError('invalid_key', 'PEM block is not valid base64');
    blocks.push({ label, der });
  }
  return blocks;
}

function requireRsa(key: KeyObject): KeyObject {
  // rsa-pss keys cannot do PKCS#1 or OAEP encryption, EC keys no RSA at all.
  if (key.asymmetricKeyType !== 'rsa') throw new CipherError('invalid_key', 'Key is not an RSA key');
  return key;
}

function wrapKeyError(err: unknown): never {
  if (err instanceof CipherError) throw err;
  // Node's parse errors name the format problem, never the key bytes, so they are safe to keep as the cause.
  throw new CipherError('invalid_key', 'RSA key could not be parsed', { cause: err });
}

/** An RSA private key from a PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`) PEM. */
export function parseRsaPrivateKey(pem: string): KeyObject {
  try {
    const blocks = pemBlocks(pem);
    if (blocks.some((b) => b.label === 'ENCRYPTED PRIVATE KEY')) {
      throw new CipherError('invalid_key', 'Encrypted PEM keys are not supported');
    }
    const block = blocks.find((b) => b.label === 'RSA PRIVATE KEY' || b.label === 'PRIVATE KEY');
    if (block === undefined) throw new CipherError('invalid_key', 'No RSA private key PEM block found');
    const type = block.label === 'RSA PRIVATE KEY' ? 'pkcs1' : 'pkcs8';
    return requireRsa(createPrivateKey({ key: block.der, format: 'der', type }));
  } catch (err) {
    return wrapKeyError(err);
  }
}

/**
 * An RSA public key from an SPKI (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`) PEM, or from an OpenSSH line
 * `ssh-rsa AAAA… comment` (what `GET /key` serves, and what Spring's RsaKeyHelper also accepts).
 */
export function parseRsaPublicKey(text: string): KeyObject {
  try {
    const trimmed = text.trim();
    if (trimmed.startsWith(`${SSH_RSA} `)) return requireRsa(parseSshRsa(trimmed));
    const block = pemBlocks(text).find((b) => b.label === 'PUBLIC KEY' || b.label === 'RSA PUBLIC KEY');
    if (block === undefined) throw new CipherError('invalid_key', 'No RSA public key found');
    const type = block.label === 'PUBLIC KEY' ? 'spki' : 'pkcs1';
    return requireRsa(createPublicKey({ key: block.der, format: 'der', type }));
  } catch (err) {
    return wrapKeyError(err);
  }
}

// --- OpenSSH wire format (RFC 4253 §6.6): string "ssh-rsa", mpint e, mpint n ---

function sshString(bytes: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** mpint: minimal big-endian two's complement, so a positive number whose top bit is set gets a leading 0x00. */
function sshMpint(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const magnitude = unsigned.subarray(start);
  const needsZero = ((magnitude[0] ?? 0) & 0x80) !== 0;
  return sshString(needsZero ? Buffer.concat([Buffer.of(0), magnitude]) : magnitude);
}

function readSshString(data: Buffer, offset: number): { value: Buffer; next: number } {
  if (offset + 4 > data.length) throw new CipherError('invalid_key', 'Truncated ssh-rsa key');
  const length = data.readUInt32BE(offset);
  const end = offset + 4 + length;
  if (end > data.length) throw new CipherError('invalid_key', 'Truncated ssh-rsa key');
  return { value: data.subarray(offset + 4, end), next: end };
}

function parseSshRsa(line: string): KeyObject {
  const encoded = line.split(/\s+/)[1] ?? '';
  const data = decodeBase64(encoded);
  if (data === undefined) throw new CipherError('invalid_key', 'ssh-rsa key is not valid base64');
  const type = readSshString(data, 0);
  if (type.value.toString('latin1') !== SSH_RSA) throw new CipherError('invalid_key', 'Not an ssh-rsa key');
  const e = readSshString(data, type.next);
  const n = readSshString(data, e.next);
  if (n.next !== data.length) throw new CipherError('invalid_key', 'Trailing data after ssh-rsa key');
  // JWK wants unsigned big-endian without the mpint's sign byte.
  const unsigned = (b: Buffer): string => b.subarray(b.findIndex((x) => x !== 0)).toString('base64url');
  const jwk: JsonWebKey = { kty: 'RSA', n: unsigned(n.value), e: unsigned(e.value) };
  return createPublicKey({ key: jwk, format: 'jwk' });
}

/**
 * The `GET /key` body Spring's RsaKeyHelper writes: `ssh-rsa ` + base64(string "ssh-rsa" ‖ mpint e ‖ mpint n) + ` `
 * + comment. Accepts a key object or any text {@link parseRsaPublicKey} / {@link parseRsaPrivateKey} accept.
 *
 * @example
 * rsaPublicKeyToSsh(pem); // 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB… application'
 */
export function rsaPublicKeyToSsh(key: KeyObject | string, comment = 'application'): string {
  const publicKey = toPublicKey(key);
  const jwk = publicKey.export({ format: 'jwk' });
  if (typeof jwk.n !== 'string' || typeof jwk.e !== 'string') {
    throw new CipherError('invalid_key', 'Key is not an RSA key');
  }
  const blob = Buffer.concat([
    sshString(Buffer.from(SSH_RSA, 'latin1')),
    sshMpint(Buffer.from(jwk.e, 'base64url')),
    sshMpint(Buffer.from(jwk.n, 'base64url')),
  ]);
  return `${SSH_RSA} ${blob.toString('base64')} ${comment}`;
}

function toPublicKey(key: KeyObject | string): KeyObject {
  if (key instanceof KeyObject) {
    return requireRsa(key.type === 'private' ? createPublicKey(key) : key);
  }
  return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)
    ? createPublicKey(parseRsaPrivateKey(key))
    : parseRsaPublicKey(key);
}
