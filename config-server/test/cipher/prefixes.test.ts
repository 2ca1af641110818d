import { describe, expect, it } from 'vitest';
import { formatCipherPrefixes, isCipherValue, parseCipherPrefixes, parseCipherValue } from '../../src/cipher/index.ts';
import { vectors } from './vectors.ts';

describe('parseCipherValue ({cipher}{key:…}{secret:…} as EnvironmentPrefixHelper reads them)', () => {
  it('splits a recorded Spring property value into marker and payload', () => {
    const vector = vectors.asymmetric.vectors[0]!;
    expect(parseCipherValue(vector.cipherProperty)).toEqual({ prefixes: new Map(), payload: vector.ciphertext });
  });

  it('reads {key:alias} and {secret:pw} before the payload', () => {
    expect(parseCipherValue('{cipher}{key:mykey}{secret:changeme}AQB+/=')).toEqual({
      keyAlias: 'mykey',
      secret: 'changeme',
      prefixes: new Map([
        ['key', 'mykey'],
        ['secret', 'changeme'],
      ]),
      payload: 'AQB+/=',
    });
  });

  it('reads them in either order', () => {
    const parsed = parseCipherValue('{cipher}{secret:changeme}{key:mykey}AQB');
    expect(parsed.keyAlias).toBe('mykey');
    expect(parsed.secret).toBe('changeme');
    expect(parsed.payload).toBe('AQB');
  });

  it('takes a /decrypt body without the {cipher} marker', () => {
    expect(parseCipherValue('{key:k2}deadbeef')).toMatchObject({ keyAlias: 'k2', payload: 'deadbeef' });
  });

  it('keeps every colon after the first inside the value', () => {
    expect(parseCipherValue('{key:team:2024}AQB').keyAlias).toBe('team:2024');
  });

  it('records other pairs without treating them as a key', () => {
    const parsed = parseCipherValue('{cipher}{foo:bar}{key:k}AQB');
    expect(parsed.keyAlias).toBe('k');
    expect(parsed.prefixes.get('foo')).toBe('bar');
    expect(parsed.payload).toBe('AQB');
  });

  it('lets a repeated pair win with its last value', () => {
    expect(parseCipherValue('{key:a}{key:b}X').keyAlias).toBe('b');
  });

  it('treats {key:} as no key selection, like Spring (which reads it as a pair named "key:")', () => {
    const parsed = parseCipherValue('{key:}AQB');
    expect(parsed.keyAlias).toBeUndefined();
    expect(parsed.payload).toBe('AQB');
  });

  it('stops at {plain}: what follows is payload even if it looks like a pair', () => {
    expect(parseCipherPrefixes('{key:k}{plain}{foo:bar}text')).toMatchObject({
      keyAlias: 'k',
      prefixes: new Map([['key', 'k']]),
      payload: '{foo:bar}text',
    });
  });

  it('only reads pairs at the start, so braces later on stay in the payload', () => {
    expect(parseCipherPrefixes('abc{key:k}def')).toEqual({ prefixes: new Map(), payload: 'abc{key:k}def' });
  });

  it('does not mistake a brace group without a colon for a pair', () => {
    expect(parseCipherPrefixes('{notapair}x').payload).toBe('{notapair}x');
  });

  it('keeps {cipher} as text when parsing an /encrypt body', () => {
    expect(parseCipherPrefixes('{cipher}x').payload).toBe('{cipher}x');
    expect(parseCipherValue('{cipher}x').payload).toBe('x');
  });

  it('strips exactly one {cipher} marker', () => {
    expect(parseCipherValue('{cipher}{cipher}x').payload).toBe('{cipher}x');
  });
});

describe('isCipherValue', () => {
  it('is true only for values starting with {cipher}', () => {
    expect(isCipherValue('{cipher}abc')).toBe(true);
    expect(isCipherValue(' {cipher}abc')).toBe(false);
    expect(isCipherValue('{CIPHER}abc')).toBe(false);
    expect(isCipherValue('plain')).toBe(false);
  });
});

describe('formatCipherPrefixes (what /encrypt echoes)', () => {
  it('writes the pairs back in order in front of the payload', () => {
    const { prefixes } = parseCipherPrefixes('{key:k}{secret:s}hello');
    expect(formatCipherPrefixes(prefixes, 'AQB')).toBe('{key:k}{secret:s}AQB');
  });

  it('drops name and profiles, which Spring takes from the request instead', () => {
    const prefixes = new Map([
      ['name', 'app'],
      ['key', 'k'],
      ['profiles', 'dev'],
    ]);
    expect(formatCipherPrefixes(prefixes, 'AQB')).toBe('{key:k}AQB');
  });
});
