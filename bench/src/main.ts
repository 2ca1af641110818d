// `npm run bench [scenario…]`: runs each scenario against a bare node:http baseline measured in the same run (right
// after each figure, so a busy machine slows both sides alike), prints every figure as a ratio to it, and writes
// the results as JSON to bench/results/latest.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { load, startServer, type LoadResult, type ServerProcess } from './harness.ts';
import type { Figure, Scenario, ScenarioContext } from './scenario.ts';
import { scenarios } from './scenarios/index.ts';

const wanted = process.argv.slice(2);
const selected: readonly Scenario[] =
  wanted.length === 0 ? scenarios : scenarios.filter((s) => wanted.includes(s.name));
if (selected.length === 0) {
  process.stderr.write(
    `bench: no scenario named ${wanted.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}\n`,
  );
  process.exit(2);
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '5');
const fmtRatio = (r: number | undefined): string => (r === undefined ? '?' : r.toFixed(2));
const figures: Figure[] = [];
// A fresh baseline process for each scenario. One process serving every scenario's load for a quarter of an hour
// ended a full run about 30 % slower than a fresh process of the same code beside it (the gateway scenario's
// "upstream direct" came out 1.3–1.5 times the shared baseline in full runs, 0.98 in a gateway-only run), which
// flattered every later scenario's ratios.
let baseline: ServerProcess | undefined;
const context: ScenarioContext = {
  async compare(name, options, { target, note } = {}) {
    // Paired rounds (the figure, then the baseline right after), and the round with the median ratio is reported:
    // on a shared two-core machine one run can land on a busy second, and pairing plus a median keeps that out.
    const runs: { result: LoadResult; base: LoadResult; ratio: number }[] = [];
    if (baseline === undefined) throw new Error('bench: compare() outside a scenario');
    const baselineUrl = baseline.url;
    for (let round = 0; round < ROUNDS; round++) {
      const warm = round > 0;
      const result = await load({ ...options, warm });
      const base = await load({
        ...options,
        url: baselineUrl,
        method: 'GET',
        body: undefined,
        requests: undefined,
        warm,
      });
      runs.push({ result, base, ratio: result.requestsPerSec / base.requestsPerSec });
    }
    runs.sort((a, b) => a.ratio - b.ratio);
    const median = runs[Math.floor(runs.length / 2)];
    if (median === undefined) throw new Error('bench: BENCH_ROUNDS must be at least 1');
    const { result, base, ratio } = median;
    const errors = runs.reduce((n, r) => n + r.result.errors, 0);
    const non2xx = runs.reduce((n, r) => n + r.result.non2xx, 0);
    const failed = errors + non2xx > 0 ? `${errors} errors, ${non2xx} non-2xx` : undefined;
    const spread =
      runs.length > 1
        ? `ratio over ${runs.length} rounds ${fmtRatio(runs[0]?.ratio)}–${fmtRatio(runs.at(-1)?.ratio)}`
        : '';
    const recorded: Figure = {
      name,
      value: result.requestsPerSec,
      unit: 'req/s',
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      baseline: base.requestsPerSec,
      ratio,
      target,
      targetKind: target === undefined ? undefined : 'min-ratio',
      pass: target === undefined ? undefined : ratio >= target && failed === undefined,
      note: [note, spread, failed].filter(Boolean).join('; ') || undefined,
    };
    figures.push(recorded);
    return recorded;
  },
  figure(name, value, unit, { max, min, note } = {}) {
    figures.push({
      name,
      value,
      unit,
      target: max ?? min,
      targetKind: max !== undefined ? 'max-value' : min !== undefined ? 'min-value' : undefined,
      pass: max !== undefined ? value <= max : min !== undefined ? value >= min : undefined,
      note,
    });
  },
};
// A scenario that fails (a broker not running, a server that did not start) is reported and the others still run:
// one missing dependency should not throw away a quarter of an hour of figures.
const failedScenarios: string[] = [];
for (const scenario of selected) {
  process.stderr.write(`bench: ${scenario.name}…\n`);
  try {
    baseline = await startServer('baseline.ts');
    await scenario.run(context);
  } catch (err) {
    failedScenarios.push(scenario.name);
    process.stderr.write(`bench: ${scenario.name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  } finally {
    await baseline?.stop();
    baseline = undefined;
  }
}

const fmt = (n: number | undefined, digits = 0): string => (n === undefined ? '' : n.toFixed(digits));
const rows = figures.map((f) => [
  f.name,
  `${fmt(f.value, f.unit === 'req/s' ? 0 : f.unit === 'ratio' ? 2 : 1)} ${f.unit}`,
  fmt(f.p50Ms, 1),
  fmt(f.p99Ms, 1),
  f.baseline === undefined ? '' : `${fmt(f.baseline)} req/s`,
  fmt(f.ratio, 2),
  f.target === undefined ? '' : f.targetKind === 'max-value' ? `<= ${f.target}` : `>= ${f.target}`,
  f.pass === undefined ? '' : f.pass ? 'ok' : 'MISSED',
  f.note ?? '',
]);
const header = ['figure', 'value', 'p50 ms', 'p99 ms', 'baseline', 'ratio', 'target', '', 'note'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]): string =>
  cells
    .map((c, i) => c.padEnd(widths[i] ?? 0))
    .join('  ')
    .trimEnd();
process.stdout.write(`\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${rows.map(line).join('\n')}\n`);

const results = {
  at: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  durationSec: Number(process.env.BENCH_DURATION ?? '3'),
  rounds: ROUNDS,
  figures,
  failedScenarios,
};
await mkdir(new URL('../results/', import.meta.url), { recursive: true });
await writeFile(new URL('../results/latest.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write('\nwritten to bench/results/latest.json\n');
if (failedScenarios.length > 0) process.stdout.write(`scenarios that failed: ${failedScenarios.join(', ')}\n`);
process.exit(failedScenarios.length > 0 || figures.some((f) => f.pass === false) ? 1 : 0);
