import { describe, expect, it } from 'vitest';
import { SseParser } from '../../src/http/sse.ts';

describe('SseParser', () => {
  it('reads named events, skips ping comments, joins data lines', () => {
    const p = new SseParser();
    const events = p.push(': ping\n\nevent: snapshot\ndata: {"a":\ndata: 1}\n\n: ping\n\nevent: change\ndata: x\n\n');
    expect(events).toEqual([
      { event: 'snapshot', data: '{"a":\n1}', id: undefined },
      { event: 'change', data: 'x', id: undefined },
    ]);
  });

  it('assembles events split across chunks anywhere, including inside CRLF', () => {
    const text = 'event: change\r\ndata: {"n":1}\r\n\r\nevent: change\r\ndata: {"n":2}\r\n\r\n';
    for (let size = 1; size <= 7; size++) {
      const p = new SseParser();
      const events = [];
      for (let i = 0; i < text.length; i += size) events.push(...p.push(text.slice(i, i + size)));
      expect(events.map((e) => e.data)).toEqual(['{"n":1}', '{"n":2}']);
    }
  });

  it('keeps an unfinished event until its blank line arrives', () => {
    const p = new SseParser();
    expect(p.push('event: change\ndata: 1\n')).toEqual([]);
    expect(p.push('\n')).toEqual([{ event: 'change', data: '1', id: undefined }]);
  });

  it('names an event without an event field "message" and reads ids', () => {
    expect(new SseParser().push('id: 7\ndata:x\n\n')).toEqual([{ event: 'message', data: 'x', id: '7' }]);
  });

  it('reads a large snapshot line delivered in many chunks in linear time', () => {
    const p = new SseParser();
    const big = 'x'.repeat(8 * 1024 * 1024);
    const started = performance.now();
    p.push('event: snapshot\ndata: ');
    let events: ReturnType<SseParser['push']> = [];
    for (let i = 0; i < big.length; i += 16 * 1024) events = p.push(big.slice(i, i + 16 * 1024));
    events = p.push('\n\n');
    expect(events[0]?.data.length).toBe(big.length);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
