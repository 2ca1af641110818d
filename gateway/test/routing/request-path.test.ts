import { describe, expect, it } from 'vitest';
import { normalizePath, normalizeRewrittenPath } from '../../src/routing/request-path.ts';

describe('normalizePath (RFC 3986 §6.2.2 and §5.2.4, refusing what stays ambiguous)', () => {
  it.each([
    ['/a/b', '/a/b'],
    ['/', '/'],
    ['/a/', '/a/'],
    ['/a/.', '/a/'],
    ['/a/b/..', '/a/'],
    ['/a/%2e', '/a/'],
    ['/a/b/%2E%2e/c', '/a/c'],
    ['//a///b', '/a/b'],
    ['/a//', '/a/'],
    ['/%7euser/%41%2d%5F', '/~user/A-_'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/a%2bb/%40x', '/a%2Bb/%40x'],
    ['/.well-known/openid-configuration', '/.well-known/openid-configuration'],
    ['/..a/a..', '/..a/a..'],
  ])('%s is %s', (path, normal) => {
    expect(normalizePath(path)).toBe(normal);
  });

  it.each([
    '/..',
    '/a/../..',
    '/%2e%2e/a',
    '/a%2fb',
    '/a%5Cb',
    '/a\\b',
    '/a;b',
    '/a%3Bb',
    '/a%25',
    '/a%7F',
    '/a%1f',
    '/a%c0%ae',
    '/a%e9',
    '/a%g0',
    '/a#b',
    '/a b',
    '/é',
  ])('refuses %s', (path) => {
    expect(() => normalizePath(path)).toThrow();
  });
});

describe('normalizeRewrittenPath', () => {
  it('accepts a normal path and re-cases encodings', () => {
    expect(normalizeRewrittenPath('/a/b')).toBe('/a/b');
    expect(normalizeRewrittenPath('/a/%7e%c3%a9')).toBe('/a/~%C3%A9');
  });

  it.each(['/a/../b', '/a/./b', '/a/%2e%2e', '/a//b', 'a/b', '/a%2fb', '/a/.'])('refuses %s', (path) => {
    expect(() => normalizeRewrittenPath(path)).toThrow();
  });
});
