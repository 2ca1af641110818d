// Regular expressions in routes (Header, Query and Cookie predicates, RewritePath) run on what any caller sends, on
// the one thread that serves every request: a pattern that backtracks without bound, such as `(a+)+$` against
// `aaaa…!`, stalls the whole gateway. V8 has no match time limit, so patterns are judged before they are compiled,
// as safe-regex does (star height): a repeated group may not itself hold a repetition or an alternation (the two ways
// a backtracking engine gets an exponential number of ways to split one input), backreferences are refused, and the
// pattern is short. What remains is at worst polynomial, and the predicates bound the length of what they match.

/** Longest pattern accepted: routes hold short patterns; a long one is more likely an attack or a mistake. */
export const MAX_PATTERN_LENGTH = 500;

interface Group {
  /** The group holds a quantifier that repeats (max above 1), directly or in a nested group. */
  repeats: boolean;
  /** The group holds an alternation at its own level. */
  alternates: boolean;
}

/** `{2}`, `{2,}`, `{2,5}` at the start of `text`: its length and whether it repeats (max above 1). */
function braces(text: string): { length: number; repeats: boolean } | undefined {
  const m = /^\{(\d+)(,(\d*))?\}/.exec(text);
  if (m === null) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
  return { length: m[0].length, repeats: max > 1 };
}

/**
 * Why a pattern could backtrack without bound, or undefined when it cannot. Judges the source as JavaScript's
 * RegExp reads it (without the u or v flag).
 *
 * @example
 * backtrackingRisk('(a+)+$'); // 'a repeated group holds a repetition …'
 * backtrackingRisk('\\d+(-[a-z]+)?'); // undefined
 */
export function backtrackingRisk(source: string): string | undefined {
  if (source.length > MAX_PATTERN_LENGTH) return `the pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
  const stack: Group[] = [{ repeats: false, alternates: false }];
  /** What a quantifier right here would repeat: an atom, a group (with what it holds), or nothing. */
  let last: Group | 'atom' | undefined;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    const top = stack[stack.length - 1] as Group;
    if (ch === '\\') {
      const next = source[i + 1] ?? '';
      // \1…\9 and \k<name>: matching with backreferences has no polynomial bound at all.
      if (/[1-9]/.test(next) || (next === 'k' && source[i + 2] === '<')) return 'the pattern has a backreference';
      i++;
      last = 'atom';
    } else if (ch === '[') {
      // A character class is one atom; skip to its closing bracket (a ] right after [ or [^ is a literal).
      let j = i + 1;
      if (source[j] === '^') j++;
      if (source[j] === ']') j++;
      while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
      i = j;
      last = 'atom';
    } else if (ch === '(') {
      stack.push({ repeats: false, alternates: false });
      // (?:, (?=, (?!, (?<=, (?<!, (?<name>: the prefix is not an atom.
      if (source[i + 1] === '?') {
        const named = /^\?<[A-Za-z_$][\w$]*>/.exec(source.slice(i + 1));
        i += named !== null ? named[0].length : source[i + 2] === '<' ? 3 : 2;
      }
      last = undefined;
    } else if (ch === ')') {
      if (stack.length === 1) return undefined; // unbalanced: the RegExp constructor reports it
      const group = stack.pop() as Group;
      const parent = stack[stack.length - 1] as Group;
      if (group.repeats) parent.repeats = true;
      last = group;
    } else if (ch === '|') {
      top.alternates = true;
      last = undefined;
    } else if (ch === '*' || ch === '+' || ch === '?' || ch === '{') {
      const quantifier = ch === '{' ? braces(source.slice(i)) : { length: 1, repeats: ch !== '?' };
      if (quantifier === undefined) {
        last = 'atom'; // a { that starts no quantifier is a literal
        continue;
      }
      i += quantifier.length - 1;
      if (source[i + 1] === '?') i++; // lazy: the same search, in another order
      if (quantifier.repeats && last !== undefined && last !== 'atom' && (last.repeats || last.alternates)) {
        return 'a repeated group holds a repetition or an alternation (as in (a+)+ or (a|b)*), which can backtrack without bound';
      }
      if (quantifier.repeats) top.repeats = true;
      last = undefined;
    } else {
      last = 'atom';
    }
  }
  return undefined;
}
