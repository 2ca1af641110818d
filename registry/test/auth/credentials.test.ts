import { describe, expect, it } from 'vitest';
import { challengeFor, parseCredential, presents } from '../../src/auth/credentials.ts';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('parseCredential', () => {
  it('reads basic credentials whose password contains colons', () => {
    expect(parseCredential('basic:eureka:pa:ss')).toEqual({ scheme: 'basic', user: 'eureka', password: 'pa:ss' });
  });

  it('reads a bearer token, scheme case-insensitive', () => {
    expect(parseCredential('Bearer:abc.DEF-123_~+/=')).toEqual({ scheme: 'bearer', token: 'abc.DEF-123_~+/=' });
  });

  it.each([
    '',
    'basic:',
    'basic:user',
    'basic::pw',
    'basic:user:',
    'bearer:',
    'bearer:has space',
    'digest:x:y',
    'token',
  ])('refuses %j without echoing it', (raw) => {
    expect(() => parseCredential(raw)).toThrow(TypeError);
    try {
      parseCredential(raw);
    } catch (err) {
      if (raw.length > 8) expect((err as Error).message).not.toContain(raw);
    }
  });
});

describe('presents', () => {
  const user = parseCredential('basic:eureka:s3cret');
  const token = parseCredential('bearer:tok-123');

  it('accepts exactly the configured basic user and password', () => {
    expect(presents(user, basic('eureka', 's3cret'))).toBe(true);
    expect(presents(user, basic('eureka', 's3cret!'))).toBe(false);
    expect(presents(user, basic('Eureka', 's3cret'))).toBe(false);
    expect(presents(user, `basic ${Buffer.from('eureka:s3cret').toString('base64')}`)).toBe(true);
    expect(presents(user, 'Bearer s3cret')).toBe(false);
    expect(presents(user, undefined)).toBe(false);
    expect(presents(user, 'garbage')).toBe(false);
  });

  it('accepts exactly the configured bearer token', () => {
    expect(presents(token, 'Bearer tok-123')).toBe(true);
    expect(presents(token, 'Bearer tok-1234')).toBe(false);
    expect(presents(token, basic('tok-123', 'x'))).toBe(false);
  });

  it('challenges with the configured scheme', () => {
    expect(challengeFor(user)).toBe('Basic realm="trellis-registry", charset="UTF-8"');
    expect(challengeFor(token)).toBe('Bearer realm="trellis-registry"');
  });
});
