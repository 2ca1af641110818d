// The broker's jars, copied once from Maven Central (mvn dependency:copy-dependencies) to a cache every run reuses.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { StartupError } from '../errors.ts';

/** The Kafka version the pom pins. */
export const KAFKA_VERSION = '4.1.1';

const POM = fileURLToPath(new URL('./pom.xml', import.meta.url));

/** `~/.cache/trellis`, where the jars (and the node runtime of the project's scripts) live between runs. */
export function defaultCacheDir(): string {
  return join(homedir(), '.cache', 'trellis');
}

/** Where `ensureKafkaJars` keeps the jars for the current pom, whether or not they are there yet. */
export async function kafkaJarsDir(cacheDir = defaultCacheDir()): Promise<string> {
  const pom = await readFile(POM);
  return join(cacheDir, `kafka-${KAFKA_VERSION}-${createHash('sha256').update(pom).digest('hex').slice(0, 8)}`, 'lib');
}

/**
 * The directory holding the broker's jars (about 54 MB), downloading them the first time (about 20 s cold). The
 * directory is named after the pom's hash, so editing the pom gets fresh jars. Two processes filling the cache at once
 * each copy into their own directory and the first rename wins.
 *
 * @example
 * const lib = await ensureKafkaJars(); // ~/.cache/trellis/kafka-4.1.1-1a2b3c4d/lib
 */
export async function ensureKafkaJars(cacheDir = defaultCacheDir()): Promise<string> {
  const lib = await kafkaJarsDir(cacheDir);
  const home = dirname(lib);
  if (existsSync(lib)) return lib;
  await mkdir(cacheDir, { recursive: true });
  const staging = `${home}.tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(staging, { recursive: true });
  try {
    await copyFile(POM, join(staging, 'pom.xml'));
    await copyDependencies(staging);
    await rename(staging, home).catch((err: unknown) => {
      // Another process finished first: its copy is as good as ours.
      if (!existsSync(lib)) throw err;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return lib;
}

async function copyDependencies(dir: string): Promise<void> {
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
      throw new StartupError(
        'the Kafka broker needs Maven (mvn) to fetch its jars: install it (apt-get install maven)',
      );
    }
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    throw new StartupError(`could not fetch the Kafka broker's jars with mvn: ${output || e.message}`, { cause: err });
  }
}
