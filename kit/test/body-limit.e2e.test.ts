import http from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, type Service } from '../src/service.ts';
import { captureLogger } from './support/logger.ts';

interface Sent {
  readonly status: number;
  readonly body: string;
}

/** Sends with node:http so the test decides the framing: a content-length, chunked, or no body at all. */
function send(port: number, method: string, body?: { chunks: readonly string[]; chunked: boolean }): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const total = body?.chunks.join('') ?? '';
    const headers: Record<string, string> =
      body === undefined
        ? {}
        : body.chunked
          ? { 'transfer-encoding': 'chunked' }
          : { 'content-length': String(Buffer.byteLength(total)) };
    const req = http.request({ host: '127.0.0.1', port, method, path: '/echo', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    for (const chunk of body?.chunks ?? []) req.write(chunk);
    req.end();
  });
}

describe('body limit over a socket', () => {
  let service: Service;
  let port: number;
  let handled = 0;
  const log = captureLogger();

  beforeAll(async () => {
    service = createService({ name: 'demo', logger: log.logger, bodyLimit: 64, git: false });
    service.app.on(['POST', 'PUT'], '/echo', async (c) => {
      handled++;
      return c.text(`read ${(await c.req.text()).length}`);
    });
    ({ port } = await service.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(() => service.stop());

  it('lets a request without a body through (a heartbeat PUT)', async () => {
    expect(await send(port, 'PUT')).toEqual({ status: 200, body: 'read 0' });
  });

  it('lets a body within the limit through and the handler reads all of it', async () => {
    expect(await send(port, 'POST', { chunks: ['x'.repeat(64)], chunked: false })).toEqual({
      status: 200,
      body: 'read 64',
    });
  });

  it('answers 413 from the content-length before the handler runs', async () => {
    const before = handled;
    const res = await send(port, 'POST', { chunks: ['x'.repeat(65)], chunked: false });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toEqual({ error: 'payload_too_large', message: 'request body over 64 bytes' });
    expect(handled).toBe(before);
  });

  it('counts a chunked body, which has no content-length, and answers 413 once it passes the limit', async () => {
    const before = handled;
    expect((await send(port, 'POST', { chunks: ['x'.repeat(40), 'y'.repeat(40)], chunked: true })).status).toBe(413);
    expect(handled).toBe(before);
    expect(await send(port, 'POST', { chunks: ['x'.repeat(30), 'y'.repeat(30)], chunked: true })).toEqual({
      status: 200,
      body: 'read 60',
    });
  });

  it('takes a client leaving mid-body for its own failure: one line at info, no server error', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.write('POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.resetAndDestroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(log.lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(log.lines.some((l) => l.level === 30 && l.msg === 'client left before its request body arrived')).toBe(true);
  });
});
