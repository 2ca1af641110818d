// Route regexes, compiled for V8's linear-time engine so that no pattern can hold the gateway's one thread.

// Regular expressions in routes (Header, Query and Cookie predicates, RewritePath, `{name:regex}` in Path patterns,
// the globs Host patterns and CORS origin patterns turn into) run on what any caller sends, on the one thread that
// serves every request. V8's default engine backtracks: `(a+)+$` is exponential and `a*a*a*a*a*a*c` polynomial
// (a 200-character header held the gateway for over a minute), and no pattern screen catches every such shape. So
// every route regex is compiled with the `l` flag for V8's linear-time engine (an automaton: time bounded by pattern
// size × input size, whatever the pattern), and a pattern that engine cannot run (backreferences, lookahead, the i
// and u flags, counts above 16 — V8 unrolls counted repetitions and caps that) is refused when the route is built,
// instead of falling back to backtracking.
import v8 from 'node:v8';

/** Longest pattern accepted: matching costs pattern size × input size, and routes hold short patterns. */
export const MAX_PATTERN_LENGTH = 500;

// The `l` flag is behind this V8 flag (Node ≥ 16, V8 ≥ 8.8). Set once, when this module loads, before any route regex
// is compiled; it only makes the `l` flag available and changes no other regex's behaviour.
v8.setFlagsFromString('--enable-experimental-regexp-engine');

/**
 * Compiles `source` for V8's linear-time engine. Throws a SyntaxError whose message says why the pattern is refused:
 * too long (`maxLength`, larger for regexes generated from globs), not valid, or not runnable in linear time.
 *
 * @example
 * compileLinear('a*a*a*a*a*a*c').test('a'.repeat(5000)); // false, in about a millisecond
 * compileLinear('(a)\\1'); // throws: backreferences cannot run in linear time
 */
export function compileLinear(source: string, flags = '', maxLength = MAX_PATTERN_LENGTH): RegExp {
  if (source.length > maxLength) throw new SyntaxError(`the pattern is longer than ${maxLength} characters`);
  try {
    // Validate with the ordinary engine first, so that a malformed pattern is reported as such rather than as one
    // the linear engine cannot run.
    new RegExp(source, flags);
  } catch {
    throw new SyntaxError('the pattern is not a valid regular expression');
  }
  try {
    return new RegExp(source, `${flags}l`);
  } catch (err) {
    if (err instanceof SyntaxError && /linear time/.test(err.message)) {
      throw new SyntaxError(
        'the pattern cannot be matched in linear time (route patterns may not use backreferences, lookahead, or ' +
          'counts above 16 such as {32} or {1,64}: write + or * instead)',
      );
    }
    throw new SyntaxError('the pattern is not a valid regular expression');
  }
}
