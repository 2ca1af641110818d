// Reading samples out of a Prometheus text scrape (an /actuator/prometheus body), for every component's meter tests.

/** One sample line of a scrape: its metric name, its labels (values as written, escapes kept) and its value. */
export interface ScrapedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * Every sample line of a Prometheus text scrape, comments and blank lines left out. Throws on a line that is neither,
 * so a test that parses its whole scrape also checks its format (no timestamps or exemplars expected).
 *
 * @example
 * const all = parseSamples(await res.text());
 * expect(valueIn(all, 'trellis_registry_instances', { status: 'UP' })).toBe(1);
 */
export function parseSamples(scrape: string): ScrapedSample[] {
  return scrape
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (m === null) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
      return { name: m[1] ?? '', labels, value: Number(m[3]) };
    });
}

/**
 * The value of the first of `samples` (from parseSamples) named `name` that has each of `labels` with exactly that
 * value (other labels may be there too), or undefined if there is none.
 */
export function valueIn(
  samples: readonly ScrapedSample[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/**
 * The value of the first sample line of `name` in a Prometheus text scrape whose label set contains each
 * `key="value"` of `labels` as written, or undefined if there is none. Reads only labelled lines (`name{…} value`),
 * and leaves the rest of the scrape unchecked, unlike parseSamples.
 *
 * @example
 * expect(sampleValue(text, 'resilience4j_circuitbreaker_state', { name: 'flaky', state: 'open' })).toBe(1);
 */
export function sampleValue(
  scrape: string,
  name: string,
  labels: Readonly<Record<string, string>>,
): number | undefined {
  for (const line of scrape.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const set = line.slice(name.length + 1, close);
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) return Number(line.slice(close + 2));
  }
  return undefined;
}
