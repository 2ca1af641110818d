// Jars copied once from Maven Central (a pom + mvn dependency:copy-dependencies) into ~/.cache/trellis, for the JVM
// servers the kit launches (the Kafka broker, Zipkin); shared so each launcher keeps only its own pom.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { StartupError } from './errors.ts';

/** `~/.cache/trellis`, where the jars (and the node runtime of the project's scripts) live between runs. */
export function defaultCacheDir(): string {
  return join(homedir(), '.cache', 'trellis');
}

export interface MavenJars {
  /** The pom whose runtime dependencies are the jars. */
  readonly pom: string;
  /** The cache entry's name before the pom's hash, e.g. `kafka-4.1.1`. */
  readonly name: string;
  /** What needs the jars, for error messages, e.g. `the Kafka broker`. */
  readonly what: string;
}

/** Where `ensureMavenJars` keeps the jars for the current pom, whether or not they are there yet. */
export async function mavenJarsDir(jars: MavenJars, cacheDir = defaultCacheDir()): Promise<string> {
  const pom = await readFile(jars.pom);
  return join(cacheDir, `${jars.name}-${createHash('sha256').update(pom).digest('hex').slice(0, 8)}`, 'lib');
}

/**
 * The directory holding the pom's jars, copying them from Maven Central (or ~/.m2) the first time. The directory is
 * named after the pom's hash, so editing the pom gets fresh jars. Two processes filling the cache at once each copy
 * into their own directory and the first rename wins.
 */
export async function ensureMavenJars(jars: MavenJars, cacheDir = defaultCacheDir()): Promise<string> {
  const lib = await mavenJarsDir(jars, cacheDir);
  const home = dirname(lib);
  if (existsSync(lib)) return lib;
  await mkdir(cacheDir, { recursive: true });
  const staging = `${home}.tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(staging, { recursive: true });
  try {
    await copyFile(jars.pom, join(staging, 'pom.xml'));
    await copyDependencies(staging, jars.what);
    await rename(staging, home).catch((err: unknown) => {
      // Another process finished first: its copy is as good as ours.
      if (!existsSync(lib)) throw err;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return lib;
}

async function copyDependencies(dir: string, what: string): Promise<void> {
  const args = [
    '-q',
    '-B',
    '-f',
    join(dir, 'pom.xml'),
    'dependency:copy-dependencies',
    `-DoutputDirectory=${join(dir, 'lib')}`,
    '-DincludeScope=runtime',
  ];
  try {
    await promisify(execFile)('mvn', args, { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new StartupError(`${what} needs Maven (mvn) to fetch its jars: install it (apt-get install maven)`);
    }
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    throw new StartupError(`could not fetch ${what}'s jars with mvn: ${output || e.message}`, { cause: err });
  }
}
