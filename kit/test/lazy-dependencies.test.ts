import { describe, expect, it } from 'vitest';
import { runScript } from './support/run-script.ts';

/**
 * Which of the heavy dependencies a fresh process has loaded after `script` ran, by package name: every module file
 * loaded as ESM (OpenTelemetry's SDK since 3.x) and every CJS module in the require cache (the SQLite addon).
 */
async function loadedAfter(script: string): Promise<string[]> {
  const probe = `const { registerHooks } = await import('node:module');
const files = new Set();
registerHooks({ load(url, ctx, next) { files.add(url); return next(url, ctx); } });
${script}
const { createRequire } = await import('node:module');
for (const f of Object.keys(createRequire(import.meta.url).cache)) files.add(f);
const loaded = ['better-sqlite3', 'pg', 'node-forge', '@opentelemetry/sdk-trace'].filter((name) =>
  [...files].some((f) => f.includes('/node_modules/' + name + '/')));
process.stdout.write(JSON.stringify(loaded));`;
  return JSON.parse(await runScript(probe, { cwd: new URL('..', import.meta.url) })) as string[];
}

describe('heavy dependencies load on the path that needs them', () => {
  it('a service and its TLS settings load neither the SQLite addon, nor the PostgreSQL driver, nor node-forge', async () => {
    const script = `
const kit = await import('@trellis/kit');
await import('@trellis/kit/tls');
kit.createService({ name: 'demo', logger: kit.createLogger({ name: 'demo', level: 'silent', format: 'json' }), git: false });`;
    expect(await loadedAfter(script)).toEqual([]);
  });

  it("OpenTelemetry's SDK loads only for a service that traces", async () => {
    const settings = (exporter: string) =>
      `{ metrics: true, tracing: { exporter: '${exporter}', zipkinEndpoint: 'http://127.0.0.1:9/api/v2/spans', otlpEndpoint: '', samplingProbability: 1, propagation: 'w3c' } }`;
    const kit = `const kit = await import('@trellis/kit');`;
    expect(await loadedAfter(`${kit} await kit.createObservability('demo', ${settings('none')});`)).toEqual([]);
    expect(
      await loadedAfter(
        `${kit} await (await kit.createObservability('demo', ${settings('zipkin')})).tracing.shutdown();`,
      ),
    ).toEqual(['@opentelemetry/sdk-trace']);
  });

  it('the first openSqlite loads the addon', async () => {
    const script = `(await import('@trellis/kit')).openSqlite(':memory:').close();`;
    expect(await loadedAfter(script)).toEqual(['better-sqlite3']);
  });
});
