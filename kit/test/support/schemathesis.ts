// The one way the suites fuzz a running server: schemathesis (installed by `trellis setup`) on its /v3/api-docs.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemathesisBinary } from '../../../cli/src/setup.ts';

export interface FuzzOptions {
  /** The server's base URL (`http://127.0.0.1:port`); its document is read from `/v3/api-docs`. */
  readonly baseUrl: string;
  /** Headers sent with every request (credentials). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Time budget of the whole run in seconds; the phases repeat until it is spent. */
  readonly maxSeconds: number;
  /** Test cases per operation and phase. Default 30. */
  readonly maxExamples?: number;
  /** Default all four: examples, coverage, fuzzing and stateful (the document's links). */
  readonly phases?: readonly ('examples' | 'coverage' | 'fuzzing' | 'stateful')[];
  /** Checks left out, each with its reason in the caller's comment. Default none: every check runs. */
  readonly excludeChecks?: readonly string[];
  /** Further `st run` arguments: `--exclude-path-regex`, `--include-tag`, … */
  readonly args?: readonly string[];
  /**
   * Read back after every refused write: the URLs whose JSON must not change, the headers to read them with, and
   * the keys (at any depth) that change with time alone.
   */
  readonly state?: {
    readonly urls: readonly string[];
    readonly headers?: Readonly<Record<string, string>>;
    readonly ignore?: readonly string[];
  };
  /**
   * A schemathesis.toml for settings one operation needs (a check's expected statuses, a generation mode), each with
   * its reason in the file's comments. Default: none.
   */
  readonly configFile?: string;
  /** Seed, for a run that repeats exactly. Default a fixed one: a failure in CI reproduces on a laptop. */
  readonly seed?: number;
}

export interface FuzzFailure {
  readonly operation: string;
  readonly message: string;
}

export interface FuzzResult {
  /** Each failed check, by operation: what the test asserts is empty. */
  readonly failures: readonly FuzzFailure[];
  /** Operations tested (JUnit test cases): a run that tested nothing proves nothing. */
  readonly operations: number;
  readonly exitCode: number;
  /** schemathesis's own summary, for the assertion message. */
  readonly output: string;
}

const HOOKS = fileURLToPath(new URL('schemathesis_hooks.py', import.meta.url));

/** Decodes the XML entities JUnit reports use. */
function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, '&');
}

/** The failed test cases of a JUnit report, and how many cases it has. */
function parseJunit(xml: string): { failures: FuzzFailure[]; operations: number } {
  const failures: FuzzFailure[] = [];
  let operations = 0;
  for (const match of xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    operations++;
    const name = /name="([^"]*)"/.exec(match[1] ?? '')?.[1] ?? '?';
    for (const failure of (match[3] ?? '').matchAll(
      /<(failure|error)\b[^>]*?(?:message="([^"]*)")?[^>]*>([\s\S]*?)<\/\1>/g,
    )) {
      failures.push({
        operation: unescapeXml(name),
        message: unescapeXml(failure[3] || failure[2] || failure[1] || '').trim(),
      });
    }
  }
  return { failures, operations };
}

/** Runs schemathesis against a running server and reads back what it found. */
export async function fuzz(options: FuzzOptions): Promise<FuzzResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-fuzz-'));
  const junit = path.join(dir, 'junit.xml');
  const args = [
    ...(options.configFile === undefined ? [] : ['--config-file', options.configFile]),
    'run',
    `${options.baseUrl}/v3/api-docs`,
    '--url',
    options.baseUrl,
    '--workers',
    '1',
    '--max-time',
    String(options.maxSeconds),
    '--max-examples',
    String(options.maxExamples ?? 30),
    '--phases',
    (options.phases ?? ['examples', 'coverage', 'fuzzing', 'stateful']).join(','),
    '--checks',
    'all',
    '--seed',
    String(options.seed ?? 20_261_206),
    '--request-timeout',
    '10',
    '--suppress-health-check',
    'all',
    '--no-color',
    '--report',
    'junit',
    '--report-junit-path',
    junit,
    ...(options.excludeChecks?.length ? ['--exclude-checks', options.excludeChecks.join(',')] : []),
    ...Object.entries(options.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    ...(options.args ?? []),
  ];
  const env = {
    ...process.env,
    SCHEMATHESIS_HOOKS: path.basename(HOOKS, '.py'),
    PYTHONPATH: path.dirname(HOOKS),
    TRELLIS_FUZZ_STATE_URLS: (options.state?.urls ?? []).join(' '),
    TRELLIS_FUZZ_STATE_HEADERS: JSON.stringify(options.state?.headers ?? options.headers ?? {}),
    TRELLIS_FUZZ_STATE_IGNORE: (options.state?.ignore ?? []).join(','),
    // schemathesis's own telemetry and its update check would try the closed network.
    SCHEMATHESIS_TELEMETRY: 'false',
    NO_COLOR: '1',
  };
  try {
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        schemathesisBinary(),
        args,
        // In the temporary directory: schemathesis keeps a crash cache (.schemathesis/) where it runs.
        { env, cwd: dir, maxBuffer: 64 * 1024 * 1024, timeout: (options.maxSeconds + 120) * 1000 },
        (err, stdout, stderr) => {
          const exit = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
          resolve({ code: exit, output: `${stdout}\n${stderr}` });
        },
      );
    });
    const report = await readFile(junit, 'utf8').catch(() => '');
    const { failures, operations } = parseJunit(report);
    const summary = output.split('\n').slice(-60).join('\n');
    if (report === '')
      return {
        failures: [{ operation: 'schemathesis', message: summary }],
        operations,
        exitCode: code,
        output: summary,
      };
    return { failures, operations, exitCode: code, output: summary };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
