import { describe, expect, it } from 'vitest';
import { backtrackingRisk, MAX_PATTERN_LENGTH } from '../../src/routing/safe-regex.ts';
import { buildPredicate, MAX_MATCHED_LENGTH } from '../../src/routing/predicates.ts';

describe('backtrackingRisk', () => {
  it.each([
    '(a+)+$',
    '(a*)*b',
    '(a|a)+$',
    '(a|ab)*c',
    '(?:a+){2,}',
    '(.*a){12}',
    '((a+))+',
    '(?<n>\\w+\\s?)*$',
    '(x+x+)+y',
    '(a)\\1',
    '(?<q>a)\\k<q>',
  ])('refuses %s', (pattern) => {
    expect(backtrackingRisk(pattern)).toBeDefined();
  });

  it.each([
    '\\d+',
    '\\d+(-[a-z]+)?',
    '(GET|POST)',
    '(foo|bar)?x',
    '[(+)]+',
    'a{2}b{3,}',
    '\\(a+\\)+',
    'v[0-9]+\\.[0-9]+',
  ])('accepts %s', (pattern) => {
    expect(backtrackingRisk(pattern)).toBeUndefined();
  });

  it('refuses patterns longer than the limit', () => {
    expect(backtrackingRisk('a'.repeat(MAX_PATTERN_LENGTH + 1))).toMatch(/longer/);
  });
});

describe('Header predicate', () => {
  const context = { routeId: 'r', addWeight: () => undefined };
  const view = (value: string) => ({
    method: 'GET',
    path: '/',
    query: '',
    headers: { 'x-a': value },
    remoteAddress: '127.0.0.1',
    now: 0,
    weightChoice: () => undefined,
  });

  it('refuses a pattern that could backtrack without bound when the route is built', () => {
    expect(() => buildPredicate({ name: 'Header', args: { _genkey_0: 'X-A', _genkey_1: '(a+)+$' } }, context)).toThrow(
      /backtrack/,
    );
  });

  it('does not try the pattern on values longer than MAX_MATCHED_LENGTH', () => {
    const predicate = buildPredicate({ name: 'Header', args: { _genkey_0: 'X-A', _genkey_1: 'a+' } }, context);
    expect(predicate(view('a'.repeat(MAX_MATCHED_LENGTH)), {})).toBe(true);
    expect(predicate(view('a'.repeat(MAX_MATCHED_LENGTH + 1)), {})).toBe(false);
  });
});
