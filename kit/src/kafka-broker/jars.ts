// The broker's jars, copied once from Maven Central (mvn dependency:copy-dependencies) to a cache every run reuses.
import { fileURLToPath } from 'node:url';
import { defaultCacheDir, ensureMavenJars, type MavenJars, mavenJarsDir } from '../maven-jars.ts';

export { defaultCacheDir } from '../maven-jars.ts';

/** The Kafka version the pom pins. */
export const KAFKA_VERSION = '4.1.1';

const JARS: MavenJars = {
  pom: fileURLToPath(new URL('./pom.xml', import.meta.url)),
  name: `kafka-${KAFKA_VERSION}`,
  what: 'the Kafka broker',
};

/** Where `ensureKafkaJars` keeps the jars for the current pom, whether or not they are there yet. */
export function kafkaJarsDir(cacheDir = defaultCacheDir()): Promise<string> {
  return mavenJarsDir(JARS, cacheDir);
}

/**
 * The directory holding the broker's jars (about 54 MB), downloading them the first time (about 20 s cold). The
 * directory is named after the pom's hash, so editing the pom gets fresh jars.
 *
 * @example
 * const lib = await ensureKafkaJars(); // ~/.cache/trellis/kafka-4.1.1-1a2b3c4d/lib
 */
export function ensureKafkaJars(cacheDir = defaultCacheDir()): Promise<string> {
  return ensureMavenJars(JARS, cacheDir);
}
