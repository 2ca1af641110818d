// The config client's and token client's meters and spans over real sockets: the real config server and auth server,
// both exporting to a real Zipkin, are called inside a span of a test service's observability.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZipkin, type Zipkin } from '@trellis/kit/zipkin-server';
import {
  createLogger,
  createObservability,
  loadSettings,
  SpanKind,
  withObservability,
  type Observability,
  type Running,
  type Tracing,
} from '@trellis/kit';
import { authServerComponent } from '../../auth-server/src/index.ts';
import { startConfigServer } from '../../config-server/test/helpers.ts';
import { fetchRemoteConfig } from '../src/config/client.ts';
import { SecurityError } from '../src/security/errors.ts';
import { createTokenClient } from '../src/security/token-client.ts';
import { sampleValue } from '../../kit/test/support/scrape.ts';
import {
  pollTrace,
  zipkinObservability,
  zipkinTracingFlags,
  type ZipkinSpan,
  type ZipkinTrace,
} from '../../kit/test/support/zipkin-trace.ts';

const silent = createLogger({ name: 'test', level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];

let zipkin: Zipkin;
let obs: Observability;
let tracing: Tracing;
let configUrl: string;
let authUrl: string;
let readerSecret: string;

/** Flags that make a component export every span to the test's Zipkin. */
const traced = (): string[] => zipkinTracingFlags(zipkin.spansUrl);

beforeAll(async () => {
  zipkin = await startZipkin();
  cleanups.push(() => zipkin.stop());

  const repo = mkdtempSync(join(tmpdir(), 'trellis-obs-config-repo-'));
  const configData = mkdtempSync(join(tmpdir(), 'trellis-obs-config-data-'));
  writeFileSync(join(repo, 'application.yml'), 'shared: from-application\n');
  writeFileSync(join(repo, 'product.yml'), 'greeting: hello\n');
  const config = await startConfigServer({
    repo,
    dataDir: configData,
    argv: ['--host', '127.0.0.1', ...traced()],
  });
  cleanups.push(async () => {
    await config.running.stop();
    rmSync(repo, { recursive: true, force: true });
    rmSync(configData, { recursive: true, force: true });
  });
  configUrl = config.url;

  const authData = mkdtempSync(join(tmpdir(), 'trellis-obs-auth-'));
  const env = {};
  const settings = loadSettings(authServerComponent.settings, {
    argv: ['--port', '0', '--host', '127.0.0.1', '--data-dir', authData, ...traced()],
    env,
  });
  const auth: Running = await authServerComponent.start(settings, { logger: silent, env });
  cleanups.push(async () => {
    await auth.stop();
    rmSync(authData, { recursive: true, force: true });
  });
  authUrl = auth.endpoints[0]?.url ?? '';
  const note = auth.notes?.find((n) => n.includes('development client reader /'));
  readerSecret = /reader \/ (\S+)/.exec(note ?? '')?.[1] ?? '';
  expect(readerSecret).not.toBe('');

  obs = await createObservability('demo', zipkinObservability(zipkin.spansUrl));
  if (obs.tracing === undefined) throw new Error('tracing is off');
  tracing = obs.tracing;
  cleanups.push(() => tracing.flush());
}, 180_000);

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * The spans of `traceId` once `done` holds for them (the components export about a second after a span ends), with
 * the raw JSON text Zipkin answered.
 */
async function traceOf(traceId: string, done: (spans: readonly ZipkinSpan[]) => boolean): Promise<ZipkinTrace> {
  await tracing.flush();
  return pollTrace(zipkin.url, traceId, { until: done });
}

const serverOf = (spans: readonly ZipkinSpan[], service: string): ZipkinSpan | undefined =>
  spans.find((s) => s.kind === 'SERVER' && s.localEndpoint?.serviceName === service);
const clientOf = (spans: readonly ZipkinSpan[]): ZipkinSpan | undefined =>
  spans.find((s) => s.kind === 'CLIENT' && s.localEndpoint?.serviceName === 'demo');

async function scrape(): Promise<string> {
  if (obs.metrics === undefined) throw new Error('metrics are off');
  return (await obs.metrics.render(false)).body;
}

describe('config client observed', () => {
  it('sends a CLIENT span the config server’s SERVER span is a child of, and times the fetch by Spring’s template', async () => {
    const { traceId, rootId, greeting } = await tracing.inSpan(
      'load config',
      SpanKind.INTERNAL,
      undefined,
      async (span) => {
        // Made in the scope: the client takes the scope's observability, the active span parents its CLIENT span.
        const config = await withObservability(obs, () =>
          fetchRemoteConfig({ uri: configUrl, name: 'product', profiles: 'default', logger: silent, failFast: false }),
        );
        return {
          traceId: span.spanContext().traceId,
          rootId: span.spanContext().spanId,
          greeting: config.getString('greeting'),
        };
      },
    );
    expect(greeting).toBe('hello');

    const { spans } = await traceOf(
      traceId,
      (s) => clientOf(s) !== undefined && serverOf(s, 'config-server') !== undefined,
    );
    const client = clientOf(spans);
    const server = serverOf(spans, 'config-server');
    const { hostname, port } = new URL(configUrl);
    expect(client).toMatchObject({ name: 'get', parentId: rootId });
    expect(client?.tags).toMatchObject({
      'http.request.method': 'GET',
      'server.address': hostname,
      'server.port': port,
      'url.full': `${configUrl}/product/default`,
      'http.response.status_code': '200',
    });
    expect(server?.parentId).toBe(client?.id);
    expect(server?.name).toBe('get /{name}/{profiles}');

    const text = await scrape();
    expect(
      sampleValue(text, 'http_client_requests_seconds_count', {
        uri: '/{name}/{profiles}',
        client_name: hostname,
        method: 'GET',
        status: '200',
        outcome: 'SUCCESS',
        exception: 'none',
        application: 'demo',
      }),
    ).toBe(1);
    expect(text).not.toContain('uri="/product/default"');
  }, 60_000);
});

describe('token client observed', () => {
  it('sends a CLIENT span the auth server’s SERVER span is a child of, times it by the endpoint path, and leaks no credential', async () => {
    const tokens = createTokenClient({
      tokenUrl: `${authUrl}/oauth2/token`,
      clientId: 'reader',
      clientSecret: readerSecret,
      scope: 'product:read',
      logger: silent,
      observability: obs,
    });
    cleanups.push(() => tokens.close());
    const { traceId, rootId, token } = await tracing.inSpan(
      'get token',
      SpanKind.INTERNAL,
      undefined,
      async (span) => ({
        traceId: span.spanContext().traceId,
        rootId: span.spanContext().spanId,
        token: await tokens.getToken(),
      }),
    );
    expect(token.split('.')).toHaveLength(3);

    const { spans, json } = await traceOf(
      traceId,
      (s) => clientOf(s) !== undefined && serverOf(s, 'auth-server') !== undefined,
    );
    const client = clientOf(spans);
    const server = serverOf(spans, 'auth-server');
    expect(client).toMatchObject({ name: 'post', parentId: rootId });
    expect(client?.tags).toMatchObject({
      'http.request.method': 'POST',
      'url.full': `${authUrl}/oauth2/token`,
      'http.response.status_code': '200',
    });
    expect(server?.parentId).toBe(client?.id);

    const text = await scrape();
    expect(
      sampleValue(text, 'http_client_requests_seconds_count', {
        uri: '/oauth2/token',
        // Micrometer's client.name for a bare URL: its host.
        client_name: new URL(authUrl).hostname,
        method: 'POST',
        status: '200',
        outcome: 'SUCCESS',
      }),
    ).toBe(1);

    // Neither the secret, the Basic credentials carrying it, nor the token in any span (ours or the server's) or label.
    const basic = Buffer.from(`reader:${readerSecret}`).toString('base64');
    const signature = token.split('.')[2] ?? token;
    for (const leaked of [json, text]) {
      expect(leaked).not.toContain(readerSecret);
      expect(leaked).not.toContain(encodeURIComponent(readerSecret));
      expect(leaked).not.toContain(basic);
      expect(leaked).not.toContain(signature);
      expect(leaked.toLowerCase()).not.toContain('basic ');
      expect(leaked.toLowerCase()).not.toContain('bearer ');
    }
    expect(json.toLowerCase()).not.toContain('authorization');
    expect(text.toLowerCase()).not.toContain('authorization');
  }, 60_000);

  it('times a refused token request with status 401 and marks its span an error', async () => {
    const tokens = createTokenClient({
      tokenUrl: `${authUrl}/oauth2/token`,
      clientId: 'reader',
      clientSecret: 'not-the-secret',
      logger: silent,
      observability: obs,
    });
    cleanups.push(() => tokens.close());
    const { traceId, err } = await tracing.inSpan('refused token', SpanKind.INTERNAL, undefined, async (span) => ({
      traceId: span.spanContext().traceId,
      err: await tokens.getToken().then(
        () => undefined,
        (e: unknown) => e,
      ),
    }));
    expect(err).toBeInstanceOf(SecurityError);
    expect(err).toMatchObject({ code: 'token_rejected', oauthError: 'invalid_client' });

    const { spans, json } = await traceOf(
      traceId,
      (s) => clientOf(s) !== undefined && serverOf(s, 'auth-server') !== undefined,
    );
    const client = clientOf(spans);
    expect(client?.tags).toMatchObject({ 'http.response.status_code': '401', 'otel.status_code': 'ERROR' });
    expect(serverOf(spans, 'auth-server')?.parentId).toBe(client?.id);
    expect(json).not.toContain('not-the-secret');

    const text = await scrape();
    expect(
      sampleValue(text, 'http_client_requests_seconds_count', {
        uri: '/oauth2/token',
        // Micrometer's client.name for a bare URL: its host.
        client_name: new URL(authUrl).hostname,
        method: 'POST',
        status: '401',
        outcome: 'CLIENT_ERROR',
      }),
    ).toBe(1);
    expect(text).not.toContain('not-the-secret');
  }, 60_000);
});
