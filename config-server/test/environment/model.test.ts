import { describe, expect, it } from 'vitest';
import { parseProperties } from '../../src/environment/properties.ts';
import { resolvePlaceholders } from '../../src/environment/placeholders.ts';
import { keySegments, toNested } from '../../src/environment/render.ts';
import { splitNameAndProfiles } from '../../src/environment/names.ts';
import { parseYaml } from '../../src/environment/yaml.ts';

describe('parseProperties (java.util.Properties rules)', () => {
  it('reads separators, escapes, continuations and comments', () => {
    const [doc] = parseProperties(
      'a=1\nb : 2\nc 3\n  # comment\n! also comment\nd=one \\\n    two\ne\\ f\\:g=h\\u00e9\\t\nempty\nurl=http\\://x\n',
    );
    expect(Object.fromEntries(doc?.values ?? [])).toEqual({
      a: '1',
      b: '2',
      c: '3',
      d: 'one two',
      'e f:g': 'hé\t',
      empty: '',
      url: 'http://x',
    });
  });

  it('throws on a malformed \\u escape, naming the line', () => {
    expect(() => parseProperties('ok=1\nbad=\\u12zz')).toThrow(/line 2/);
  });
});

describe('parseYaml', () => {
  it('flattens maps and lists as Spring does, keeping YAML 1.1 booleans and timestamps as written', () => {
    const [doc] = parseYaml('a:\n  b: 1\n  c: [x, {d: 2}]\non: yes\nwhen: 2024-01-01\nnothing:\n');
    expect(Object.fromEntries(doc?.values ?? [])).toEqual({
      'a.b': 1,
      'a.c[0]': 'x',
      'a.c[1].d': 2,
      on: true,
      when: '2024-01-01',
      nothing: '',
    });
  });
});

describe('resolvePlaceholders', () => {
  const values: Record<string, string> = {
    host: 'h',
    port: '80',
    url: 'http://${host}:${port}',
    loop: '${loop}',
    name: 'host',
  };
  const lookup = (k: string): string | undefined => values[k];
  it('resolves nested, recursive and default placeholders and leaves unknown ones', () => {
    expect(resolvePlaceholders('${url}/x', lookup)).toBe('http://h:80/x');
    expect(resolvePlaceholders('${missing:fallback} ${missing}', lookup)).toBe('fallback ${missing}');
    expect(resolvePlaceholders('${${name}}', lookup)).toBe('h');
    expect(resolvePlaceholders('${loop}', lookup)).toBe('${loop}');
    expect(resolvePlaceholders('\\${host}', lookup)).toBe('${host}');
  });
});

describe('renderings helpers', () => {
  it('splits at the last hyphen', () => {
    expect(splitNameAndProfiles('product-composite-docker')).toEqual({ name: 'product-composite', profiles: 'docker' });
    expect(splitNameAndProfiles('product')).toBeUndefined();
  });
  it('nests flat keys into maps and lists', () => {
    expect(keySegments('a.b[0].c')).toEqual(['a', 'b', 0, 'c']);
    expect(
      toNested(
        new Map<string, string | number>([
          ['a.b[1]', 'y'],
          ['a.b[0]', 'x'],
          ['c', 1],
        ]),
      ),
    ).toEqual({ a: { b: ['x', 'y'] }, c: 1 });
  });
});
