import { describe, expect, it } from 'vitest';
import { mayActFor, parseScopedEntries, scopedCredentials } from '../src/scoped-credentials.ts';

const basic = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`;

describe('scoped credentials', () => {
  it('parses id:secret:names (colons in the secret), normalizing names and keeping *', () => {
    expect(
      parseScopedEntries(' review:a:b:c-secret:review, Review ; ops:0ps-secret:* ', {
        normalize: (s) => s.toUpperCase(),
      }),
    ).toEqual([
      { id: 'review', secret: 'a:b:c-secret', scopes: ['REVIEW'] },
      { id: 'ops', secret: '0ps-secret', scopes: ['*'] },
    ]);
  });

  it('names the bad entry and never its secret', () => {
    for (const text of [
      'x:short:A',
      'nosecret',
      'a:long-enough:',
      'a:long-enough:A;a:other-secret:B',
      '-a:long-enough:A',
    ]) {
      expect(() => parseScopedEntries(text)).toThrow(/^entry \d/);
      try {
        parseScopedEntries(text);
      } catch (err) {
        expect((err as Error).message).not.toMatch(/long-enough|other-secret|short/);
      }
    }
  });

  it('finds the client of a Basic id:secret, and no one for another id, a wrong secret or another scheme', () => {
    const check = scopedCredentials(parseScopedEntries('review:review-secret:REVIEW;ops:ops-secret:*'));
    expect(check.basic(basic('review:review-secret'))).toEqual({ id: 'review', scopes: ['REVIEW'] });
    expect(check.basic(basic('ops:review-secret'))).toBeUndefined();
    expect(check.basic(basic('review:ops-secret'))).toBeUndefined();
    expect(check.basic('Bearer review-secret')).toBeUndefined();
    expect(check.basic(undefined)).toBeUndefined();
    expect(mayActFor({ id: 'review', scopes: ['REVIEW'] }, 'REVIEW')).toBe(true);
    expect(mayActFor({ id: 'review', scopes: ['REVIEW'] }, 'PRODUCT')).toBe(false);
    expect(mayActFor({ id: 'ops', scopes: ['*'] }, 'PRODUCT')).toBe(true);
  });

  it('names the variable and what the names are when told, and compares names as given by default', () => {
    expect(() => parseScopedEntries('a:long-secret', { source: 'CONFIG_CLIENTS', noun: 'application' })).toThrow(
      /^CONFIG_CLIENTS entry 1 must be id:secret:applications$/,
    );
    expect(() => parseScopedEntries('a:long-secret:', { source: 'CONFIG_CLIENTS', noun: 'application' })).toThrow(
      /^CONFIG_CLIENTS entry 1 \(a\): list application names, or \* for all$/,
    );
    expect(parseScopedEntries('a:long-secret:Product,product')).toEqual([
      { id: 'a', secret: 'long-secret', scopes: ['Product', 'product'] },
    ]);
  });

  it('finds the client of a secret alone (Bearer, a token header), and no one for a Basic pair or a wrong secret', () => {
    const check = scopedCredentials(parseScopedEntries('review:review-secret:REVIEW;ops:ops-secret:*'));
    expect(check.bearer('Bearer review-secret')).toEqual({ id: 'review', scopes: ['REVIEW'] });
    expect(check.bearer('bearer  ops-secret ')).toEqual({ id: 'ops', scopes: ['*'] });
    expect(check.bearer('Bearer review:review-secret')).toBeUndefined();
    expect(check.bearer(basic('review:review-secret'))).toBeUndefined();
    expect(check.bearer('Bearer')).toBeUndefined();
    expect(check.bearer(undefined)).toBeUndefined();
    expect(check.token('ops-secret')).toEqual({ id: 'ops', scopes: ['*'] });
    expect(check.token('ops-secre')).toBeUndefined();
    expect(check.token('')).toBeUndefined();
    // The secret alone is not a Basic credential.
    expect(check.basic(basic('review-secret'))).toBeUndefined();
    expect(scopedCredentials([]).token('anything')).toBeUndefined();
  });
});
