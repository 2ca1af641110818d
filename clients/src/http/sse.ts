// A Server-Sent Events reader (the WHATWG event-stream grammar) for the registry's and config server's watch streams.
// undici's EventSource would do, but it reconnects on its own schedule and hides the 404 that tells us the server is
// a plain Eureka; reading the stream over a plain request keeps both decisions with the caller.

export interface SseEvent {
  /** `message` when the event named none. */
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

/** Feeds text chunks in, gets complete events out; lines split across chunks are carried over. */
export class SseParser {
  /** The start of an unfinished line, in pieces: a 10 MB snapshot line arrives in many chunks, and joining once is linear. */
  #pending: string[] = [];
  #event = '';
  #data: string[] = [];
  #id: string | undefined;
  /** A chunk ending in CR may be followed by the LF of the same line ending in the next chunk. */
  #skipLf = false;

  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.#skipLf && text.startsWith('\n')) text = text.slice(1);
    this.#skipLf = false;
    const events: SseEvent[] = [];
    let start = 0;
    // Next CR and LF positions, searched again only once passed: a chunk is scanned once, not once per line.
    let cr = text.indexOf('\r');
    let lf = text.indexOf('\n');
    for (;;) {
      if (cr !== -1 && cr < start) cr = text.indexOf('\r', start);
      if (lf !== -1 && lf < start) lf = text.indexOf('\n', start);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) break;
      const piece = text.slice(start, end);
      const line = this.#pending.length === 0 ? piece : this.#pending.join('') + piece;
      this.#pending = [];
      if (end === cr) {
        if (end + 1 === text.length) this.#skipLf = true;
        start = end + 1 < text.length && text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
      const event = this.#line(line);
      if (event !== undefined) events.push(event);
    }
    if (start < text.length) this.#pending.push(text.slice(start));
    return events;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') {
      const event =
        this.#data.length === 0
          ? undefined
          : { event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id };
      this.#event = '';
      this.#data = [];
      return event;
    }
    // Comments (`: ping`) only keep the connection alive.
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\u0000')) this.#id = value;
    return undefined;
  }
}
