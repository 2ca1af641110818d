// The test collector's binary, built once with the OpenTelemetry Collector Builder from the Go module proxy into a
// cache every run reuses: no collector is packaged in Debian or Maven Central.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { StartupError } from '../errors.ts';
import { defaultCacheDir } from '../maven-jars.ts';

/** The collector release the manifest pins, and the builder (ocb) of the same release. */
export const OTELCOL_VERSION = '0.165.0';
/** The oldest Go the builder of that release compiles with (its go.mod's `go` line). */
export const OTELCOL_MIN_GO: readonly [number, number] = [1, 26];

const MANIFEST = fileURLToPath(new URL('./manifest.yaml', import.meta.url));
/** The manifest's `dist.name` under its `dist.output_path`. */
const BINARY = join('build', 'otelcol-trellis');
const BUILD_TIMEOUT_MS = 20 * 60_000;

export interface OtelCollectorBuildOptions {
  /** Where the collector is cached. Default `~/.cache/trellis`. */
  readonly cacheDir?: string;
  /** The Go command that builds it. Default `go` on PATH. */
  readonly go?: string;
}

/** Where `ensureOtelCollector` keeps the binary for the current manifest, whether or not it is there yet. */
export async function otelCollectorPath(options: OtelCollectorBuildOptions = {}): Promise<string> {
  const manifest = await readFile(MANIFEST);
  const hash = createHash('sha256').update(manifest).digest('hex').slice(0, 8);
  return join(options.cacheDir ?? defaultCacheDir(), `otelcol-${OTELCOL_VERSION}-${hash}`, BINARY);
}

/**
 * The path of the OpenTelemetry Collector binary (OTLP receiver, file exporter), built the first time: the builder is
 * installed with `go install` into the cache entry, which then compiles the manifest's modules (about 2 minutes cold,
 * seconds with Go's build cache warm). The entry is named after the manifest's hash, so editing it builds afresh. Two
 * processes building at once each fill their own directory and the first rename wins.
 *
 * @example
 * const bin = await ensureOtelCollector(); // ~/.cache/trellis/otelcol-0.165.0-1a2b3c4d/build/otelcol-trellis
 */
export async function ensureOtelCollector(options: OtelCollectorBuildOptions = {}): Promise<string> {
  const binary = await otelCollectorPath(options);
  if (existsSync(binary)) return binary;
  const home = dirname(dirname(binary));
  await mkdir(dirname(home), { recursive: true });
  const staging = `${home}.tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(staging, { recursive: true });
  try {
    await copyFile(MANIFEST, join(staging, 'manifest.yaml'));
    const go = options.go ?? 'go';
    await run(go, ['install', `go.opentelemetry.io/collector/cmd/builder@v${OTELCOL_VERSION}`], staging, {
      GOBIN: join(staging, 'bin'),
    });
    await run(join(staging, 'bin', 'builder'), ['--config', join(staging, 'manifest.yaml')], staging, {});
    await rename(staging, home).catch((err: unknown) => {
      // Another process finished first: its build is as good as ours.
      if (!existsSync(binary)) throw err;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return binary;
}

async function run(command: string, args: readonly string[], cwd: string, env: Record<string, string>): Promise<void> {
  try {
    await promisify(execFile)(command, args, {
      cwd,
      env: { ...process.env, ...env },
      timeout: BUILD_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      const [major, minor] = OTELCOL_MIN_GO;
      throw new StartupError(
        `the OpenTelemetry Collector is built with Go ${major}.${minor} or newer, and ${command} was not found: install Go`,
      );
    }
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    throw new StartupError(`could not build the OpenTelemetry Collector (${command} ${args[0] ?? ''}): ${output}`, {
      cause: err,
    });
  }
}
