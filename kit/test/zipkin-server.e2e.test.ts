// The Zipkin launcher starts the real server from the cached jar, on loopback only, keeps a span it is sent, and stops.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startZipkin, type Zipkin } from '../src/zipkin-server/index.ts';

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startZipkin', () => {
  let zipkin: Zipkin | undefined;
  afterAll(async () => {
    await zipkin?.stop();
  });

  it('stores a span POSTed in Zipkin v2 JSON and answers it by trace id, then stops and frees its port', async () => {
    zipkin = await startZipkin();
    expect(zipkin.url).toBe(`http://127.0.0.1:${zipkin.port}`);
    expect(zipkin.spansUrl).toBe(`${zipkin.url}/api/v2/spans`);
    const traceId = randomBytes(16).toString('hex');
    const span = {
      traceId,
      id: randomBytes(8).toString('hex'),
      name: 'get /orders',
      kind: 'SERVER',
      timestamp: Date.now() * 1000,
      duration: 1500,
      localEndpoint: { serviceName: 'zipkin-launcher-test' },
      tags: { 'http.method': 'GET' },
    };
    const posted = await fetch(zipkin.spansUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([span]),
    });
    expect(posted.status).toBe(202);

    // The collector stores asynchronously: poll briefly rather than expect the span on the next request.
    let trace: { id?: string; name?: string; localEndpoint?: { serviceName?: string } }[] = [];
    for (let i = 0; i < 50 && trace.length === 0; i++) {
      const res = await fetch(`${zipkin.url}/api/v2/trace/${traceId}`);
      if (res.status === 200) trace = (await res.json()) as typeof trace;
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(trace).toHaveLength(1);
    expect(trace[0]).toMatchObject({
      id: span.id,
      name: 'get /orders',
      localEndpoint: { serviceName: 'zipkin-launcher-test' },
    });

    const { port } = zipkin;
    await zipkin.stop();
    zipkin = undefined;
    expect(await accepts('127.0.0.1', port)).toBe(false);
  }, 180_000);
});
