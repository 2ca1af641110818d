import { describe, expect, it } from 'vitest';
import { CredentialLimiter, presentedName, throttleSource } from '../src/credential-limiter.ts';

function limiter(options: ConstructorParameters<typeof CredentialLimiter>[0] = {}) {
  let now = 1_000_000;
  const l = new CredentialLimiter({ now: () => now, ...options });
  return { l, advance: (ms: number) => (now += ms) };
}

describe('CredentialLimiter', () => {
  it('locks a name from a source out after 10 failures, for 30 s, and other sources not at all', () => {
    const { l, advance } = limiter();
    for (let i = 0; i < 9; i++) {
      expect(l.retryAfter('10.0.0.1', 'ops')).toBeUndefined();
      l.failed('10.0.0.1', 'ops');
    }
    expect(l.retryAfter('10.0.0.1', 'ops')).toBeUndefined();
    expect(l.locksAny()).toBe(false);
    l.failed('10.0.0.1', 'ops');
    expect(l.retryAfter('10.0.0.1', 'ops')).toBe(30);
    expect(l.locksAny()).toBe(true);
    expect(l.retryAfter('10.0.0.2', 'ops')).toBeUndefined();
    advance(29_500);
    expect(l.retryAfter('10.0.0.1', 'ops')).toBe(1);
    advance(500);
    expect(l.retryAfter('10.0.0.1', 'ops')).toBeUndefined();
    expect(l.locksAny()).toBe(false);
    // One more wrong one after a lockout locks again, twice as long, up to the cap.
    l.failed('10.0.0.1', 'ops');
    expect(l.retryAfter('10.0.0.1', 'ops')).toBe(60);
    for (let i = 0; i < 10; i++) {
      advance(15 * 60_000);
      l.failed('10.0.0.1', 'ops');
    }
    expect(l.retryAfter('10.0.0.1', 'ops')).toBe(15 * 60);
  });

  it('clears a name on success but keeps counting the source across names (a sprayed password)', () => {
    const { l } = limiter();
    for (let i = 0; i < 9; i++) l.failed('10.0.0.1', 'ops');
    l.succeeded('10.0.0.1', 'ops');
    l.failed('10.0.0.1', 'ops');
    expect(l.retryAfter('10.0.0.1', 'ops')).toBeUndefined();
    for (let i = 0; i < 9; i++) l.failed('10.0.0.1', `user${i}`);
    // 9 + 1 + 9 failures from the source; the 20th locks every name from it, even one never tried.
    expect(l.retryAfter('10.0.0.1', 'someone')).toBeUndefined();
    l.failed('10.0.0.1', 'another');
    expect(l.retryAfter('10.0.0.1', 'someone')).toBe(30);
    expect(l.retryAfter('10.0.0.2', 'someone')).toBeUndefined();
  });

  it('forgets failures 15 minutes after the last one', () => {
    const { l, advance } = limiter();
    for (let i = 0; i < 9; i++) l.failed('10.0.0.1', 'ops');
    advance(15 * 60_000 + 1);
    l.failed('10.0.0.1', 'ops');
    expect(l.retryAfter('10.0.0.1', 'ops')).toBeUndefined();
  });

  it('keeps lockouts when a spray of fresh names fills its memory', () => {
    const { l } = limiter({ maxEntries: 100 });
    for (let i = 0; i < 10; i++) l.failed('10.0.0.1', 'ops');
    for (let i = 0; i < 1000; i++) l.failed(`10.1.${i >> 8}.${i & 255}`, `n${i}`);
    expect(l.retryAfter('10.0.0.1', 'ops')).toBe(30);
  });
});

describe('presentedName', () => {
  it('is the Basic user, (token) for other schemes and tokens, undefined for no credential', () => {
    const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
    expect(presentedName(basic('ops:pw:with:colons'))).toBe('ops');
    expect(presentedName(basic('no-colon'))).toBe('no-colon');
    expect(presentedName(basic(`${'x'.repeat(500)}:pw`))).toHaveLength(128);
    expect(presentedName('Bearer abc')).toBe('(token)');
    expect(presentedName(undefined, 'secret')).toBe('(token)');
    expect(presentedName(undefined, '')).toBeUndefined();
    expect(presentedName(undefined)).toBeUndefined();
    expect(presentedName('  ')).toBeUndefined();
  });
});

describe('throttleSource', () => {
  it('is one key for all of 127.0.0.0/8, plain or IPv4-mapped', () => {
    for (const a of ['127.0.0.1', '127.0.0.2', '127.255.3.4', '::ffff:127.0.0.9', '::FFFF:7f00:1']) {
      expect(throttleSource(a)).toBe('127.0.0.0/8');
    }
  });

  it('reads an IPv4-mapped IPv6 address as its IPv4 address, and keys IPv6 per /64', () => {
    expect(throttleSource('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(throttleSource('::ffff:cb00:7109')).toBe('203.0.113.9');
    expect(throttleSource('203.0.113.9')).toBe('203.0.113.9');
    expect(throttleSource('2001:db8:1:2::1')).toBe(throttleSource('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
    expect(throttleSource('2001:db8:1:2::1')).not.toBe(throttleSource('2001:db8:1:3::1'));
  });

  it('changes nothing applied twice, nor what is no address', () => {
    for (const a of ['127.0.0.5', '2001:db8:1:2::1', '10.1.2.3', 'unknown']) {
      expect(throttleSource(throttleSource(a))).toBe(throttleSource(a));
    }
    expect(throttleSource('unknown')).toBe('unknown');
  });

  it('makes the limiter count loopback addresses, a mapped address and its IPv4, and one /64 together', () => {
    const { l } = limiter();
    for (let i = 0; i < 20; i++) l.failed(`127.0.0.${i + 1}`, `name-${i}`);
    expect(l.retryAfter('127.1.2.3', 'other')).toBe(30);
    expect(l.retryAfter('::ffff:127.0.0.1', 'other')).toBe(30);
    for (let i = 0; i < 10; i++) l.failed(i % 2 === 0 ? '::ffff:198.51.100.1' : '198.51.100.1', 'ops');
    expect(l.retryAfter('198.51.100.1', 'ops')).toBe(30);
    for (let i = 0; i < 10; i++) l.failed(`2001:db8:5:6::${i + 1}`, 'ops');
    expect(l.retryAfter('2001:db8:5:6:abcd::1', 'ops')).toBe(30);
    expect(l.retryAfter('2001:db8:5:7::1', 'ops')).toBeUndefined();
  });
});
