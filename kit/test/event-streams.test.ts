import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { describe, expect, it } from 'vitest';
import { pumpEvents, type EventPumpOptions, type EventSink } from '../src/event-streams.ts';

interface Run {
  readonly body: string;
  readonly closed: number;
  readonly socketsDestroyed: number;
}

/** Runs one stream through a real hono SSE response and reads its body to the end. */
async function run(
  options: Partial<EventPumpOptions>,
  open: (sink: EventSink) => void,
  readUntil?: (body: string) => boolean,
): Promise<Run> {
  let closed = 0;
  let socketsDestroyed = 0;
  const stopping = new AbortController();
  const app = new Hono();
  app.get('/', (c) =>
    streamSSE(c, (stream) =>
      pumpEvents(
        stream,
        {
          writeTimeoutMs: 1000,
          pingMs: 60_000,
          maxQueued: 100,
          stopping: stopping.signal,
          destroySocket: () => socketsDestroyed++,
          ...options,
        },
        (sink) => {
          open(sink);
          return () => closed++;
        },
      ),
    ),
  );
  const res = await app.request('/');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let body = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    body += decoder.decode(value, { stream: true });
    if (readUntil?.(body) === true) {
      stopping.abort();
      await reader.cancel();
      break;
    }
  }
  return { body, closed, socketsDestroyed };
}

describe('pumpEvents', () => {
  it('writes the ping comment it is given, on the interval', async () => {
    const { body, closed } = await run(
      { pingMs: 10, ping: ': ping\n\n' },
      () => undefined,
      (b) => b.length > 0,
    );
    expect(body.startsWith(': ping\n\n')).toBe(true);
    expect(closed).toBe(1);
  });

  it('with overflow end, ends a stream that falls behind cleanly: the queue dropped, the socket left open', async () => {
    const { body, closed, socketsDestroyed } = await run({ maxQueued: 3, overflow: 'end' }, (sink) => {
      for (let i = 0; i < 10; i++) sink.push(`data: ${i}\n\n`);
      expect(sink.ended).toBe(true);
    });
    expect(body).toBe('');
    expect(socketsDestroyed).toBe(0);
    expect(closed).toBe(1);
  });

  it('by default cuts a stream that falls behind, closing its socket', async () => {
    const { closed, socketsDestroyed } = await run({ maxQueued: 3 }, (sink) => {
      for (let i = 0; i < 10; i++) sink.push(`data: ${i}\n\n`);
    });
    expect(socketsDestroyed).toBe(1);
    expect(closed).toBe(1);
  });
});
