// Zipkin's executable jar, copied once from Maven Central (mvn dependency:copy-dependencies) to a cache every run reuses.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCacheDir, ensureMavenJars, type MavenJars, mavenJarsDir } from '../maven-jars.ts';

/** The Zipkin version the pom pins. */
export const ZIPKIN_VERSION = '3.5.1';

const JARS: MavenJars = {
  pom: fileURLToPath(new URL('./pom.xml', import.meta.url)),
  name: `zipkin-${ZIPKIN_VERSION}`,
  what: 'the Zipkin server',
};
const JAR = `zipkin-server-${ZIPKIN_VERSION}-exec.jar`;

export interface ZipkinJarOptions {
  /** Where the jar is cached. Default `~/.cache/trellis`. */
  readonly cacheDir?: string;
}

/** Where `ensureZipkinJar` keeps the jar for the current pom, whether or not it is there yet. */
export async function zipkinJarPath(options: ZipkinJarOptions = {}): Promise<string> {
  return join(await mavenJarsDir(JARS, options.cacheDir ?? defaultCacheDir()), JAR);
}

/**
 * The path of Zipkin's executable jar (about 130 MB), downloaded the first time.
 *
 * @example
 * const jar = await ensureZipkinJar(); // ~/.cache/trellis/zipkin-3.5.1-1a2b3c4d/lib/zipkin-server-3.5.1-exec.jar
 */
export async function ensureZipkinJar(options: ZipkinJarOptions = {}): Promise<string> {
  return join(await ensureMavenJars(JARS, options.cacheDir ?? defaultCacheDir()), JAR);
}
