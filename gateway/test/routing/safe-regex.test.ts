import { describe, expect, it } from 'vitest';
import { readCorsPolicy, originAllowed } from '../../src/routing/cors.ts';
import { compilePathPattern } from '../../src/routing/path-pattern.ts';
import { buildPredicate, MAX_MATCHED_LENGTH } from '../../src/routing/predicates.ts';
import { compileLinear, MAX_PATTERN_LENGTH } from '../../src/routing/safe-regex.ts';

/** Milliseconds `run` takes. */
function timed(run: () => unknown): number {
  const started = performance.now();
  run();
  return performance.now() - started;
}

describe('compileLinear', () => {
  // The shapes the pen tests used: exponential on a backtracking engine ((a+)+$) and polynomial (a*a*…c, .*.*…,
  // \w*\d*…), each against an input that never matches, which is what makes a backtracking engine try every split.
  it.each([
    ['^(?:a*a*a*a*a*a*c)$', 'a'],
    ['^(?:.*.*.*.*.*.*=x)$', 'a'],
    ['^(?:\\w*\\d*\\w*\\d*\\w*\\d*c)$', '1'],
    ['^(?:(a+)+)$', 'a'],
    ['^(?:(a|a)+)$', 'a'],
    ['^(?:(\\w+\\s?)*)$', 'ab '],
    ['^(?:(.*a){12})$', 'a'],
  ])('%s answers a 5,000-character input within milliseconds', (source, unit) => {
    const regex = compileLinear(source);
    const input = `${unit.repeat(5000 / unit.length)}!`;
    expect(timed(() => expect(regex.test(input)).toBe(false))).toBeLessThan(100);
  });

  it.each([
    ['(?=(a+))a*c', /linear time/],
    ['(?!b)a', /linear time/],
    ['(a)\\1', /linear time/],
    ['(?<q>a)\\k<q>', /linear time/],
    ['[0-9a-f]{32}', /counts above 16/],
    ['(a', /not a valid regular expression/],
  ])('refuses %s, saying why', (source, reason) => {
    expect(() => compileLinear(source)).toThrow(reason);
  });

  it('refuses patterns longer than the limit', () => {
    expect(() => compileLinear('a'.repeat(MAX_PATTERN_LENGTH + 1))).toThrow(/longer/);
  });

  it('keeps named groups for replacements, with the g flag', () => {
    expect('/red/blue/green'.replace(compileLinear('/red/?(?<segment>.*)', 'g'), '/$<segment>')).toBe('/blue/green');
  });
});

describe('route regexes', () => {
  const context = { routeId: 'r', addWeight: () => undefined };
  const view = (headers: Record<string, string>, path = '/', query = '') => ({
    method: 'GET',
    path,
    query,
    headers,
    remoteAddress: '127.0.0.1',
    now: 0,
    weightChoice: () => undefined,
  });
  const long = 'a'.repeat(MAX_MATCHED_LENGTH);

  it.each([
    ['Header', 'X-A', 'a*a*a*a*a*a*c', view({ 'x-a': long })],
    ['Header', 'X-A', '(a+)+$', view({ 'x-a': `${long.slice(1)}!` })],
    ['Query', 'q', '.*.*.*.*.*.*=x', view({}, '/', `q=${long}`)],
    ['Cookie', 'c', '\\w*\\d*\\w*\\d*\\w*\\d*c', view({ cookie: `c=${'1'.repeat(MAX_MATCHED_LENGTH)}` })],
  ])(
    '%s with %s %s answers a value of the largest tried length within milliseconds',
    (name, field, source, request) => {
      const predicate = buildPredicate({ name, args: { _genkey_0: field, _genkey_1: source } }, context);
      expect(timed(() => expect(predicate(request, {})).toBe(false))).toBeLessThan(100);
    },
  );

  it('Path {name:regex} and stacked globs, and Host ** chains, answer long inputs within milliseconds', () => {
    const path = compilePathPattern('/x/{v:a*a*a*a*a*a*c}');
    expect(timed(() => expect(path.match(`/x/${'a'.repeat(5000)}`)).toBeUndefined())).toBeLessThan(100);
    const glob = compilePathPattern('/x/a*a*a*a*a*a*c');
    expect(timed(() => expect(glob.match(`/x/${'a'.repeat(5000)}`)).toBeUndefined())).toBeLessThan(100);
    const host = buildPredicate({ name: 'Host', args: { _genkey_0: '**.**.**.**.**.**.c' } }, context);
    const dotted = `${'a.'.repeat(2500)}b`;
    expect(timed(() => expect(host(view({ host: dotted }), {})).toBe(false))).toBeLessThan(100);
  });

  it('CORS origin patterns answer a long Origin within milliseconds and still ignore case', () => {
    const policy = readCorsPolicy({ allowedOriginPatterns: ['https://*.*.*.*.*.*.Example.org'] }, 'test');
    expect(timed(() => expect(originAllowed(policy, `https://${'a'.repeat(5000)}`)).toBe(false))).toBeLessThan(100);
    expect(originAllowed(policy, 'https://A.b.c.d.e.f.EXAMPLE.ORG')).toBe(true);
  });

  it('refuses, naming the route, what cannot run in linear time', () => {
    expect(() => buildPredicate({ name: 'Header', args: { _genkey_0: 'X-A', _genkey_1: '(a)\\1' } }, context)).toThrow(
      /route r.*linear time/,
    );
    expect(() => buildPredicate({ name: 'Path', args: { _genkey_0: '/x/{v:(?=a)a}' } }, context)).toThrow(
      /linear time/,
    );
  });

  it('a pattern cannot close the group it is wrapped in to pass as valid', () => {
    expect(() => buildPredicate({ name: 'Header', args: { _genkey_0: 'X-A', _genkey_1: 'a)|(b' } }, context)).toThrow(
      /not a valid/,
    );
  });

  it('does not try the pattern on values longer than MAX_MATCHED_LENGTH', () => {
    const predicate = buildPredicate({ name: 'Header', args: { _genkey_0: 'X-A', _genkey_1: 'a+' } }, context);
    expect(predicate(view({ 'x-a': long }), {})).toBe(true);
    expect(predicate(view({ 'x-a': `${long}a` }), {})).toBe(false);
  });
});
