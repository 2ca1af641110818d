// `const { url, spansUrl, stop } = await startZipkin()`: a real Zipkin for the tracing tests and trellis up.
export { startZipkin } from './server.ts';
export type { Zipkin, ZipkinOptions } from './server.ts';
export { ensureZipkinJar, ZIPKIN_VERSION, zipkinJarPath } from './jar.ts';
export type { ZipkinJarOptions } from './jar.ts';
