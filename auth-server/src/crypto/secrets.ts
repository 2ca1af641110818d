// Client secrets: how they are made, stored as peppered HMACs, and checked in constant time.
import { createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

const SCHEME = 'hmac-sha256';

/** A new client secret: 256 random bits, so a fast hash is enough to store it (nothing to brute-force). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Client secrets are stored as `hmac-sha256$<salt>$<mac>` keyed with a pepper derived from the master key. A slow
 * password hash (argon2id) would cost tens of milliseconds on every token request for no gain: generated secrets
 * have 256 bits of entropy, and without the pepper a stolen database cannot even test a guess.
 *
 * The pepper is a KeyObject (`createSecretKey`, once): handed a Buffer, createHmac builds a key object on every
 * call, which costs five times the HMAC itself (about 13 µs of a token request).
 */
export function hashSecret(secret: string, pepper: KeyObject): string {
  const salt = randomBytes(16).toString('base64url');
  return `${SCHEME}$${salt}$${mac(pepper, salt, secret)}`;
}

export function verifySecret(stored: string, presented: string, pepper: KeyObject): boolean {
  const [scheme, salt, expected] = stored.split('$');
  if (scheme !== SCHEME || salt === undefined || expected === undefined) return false;
  const actual = Buffer.from(mac(pepper, salt, presented), 'base64url');
  const wanted = Buffer.from(expected, 'base64url');
  return actual.length === wanted.length && timingSafeEqual(actual, wanted);
}

function mac(pepper: KeyObject, salt: string, secret: string): string {
  return createHmac('sha256', pepper).update(salt).update('\0').update(secret, 'utf8').digest('base64url');
}

/** Compares a presented credential with the configured one without an early exit on the first differing byte. */
export function sameCredential(presented: string, expected: string): boolean {
  const x = Buffer.from(presented);
  const y = Buffer.from(expected);
  return x.length === y.length && timingSafeEqual(x, y);
}
