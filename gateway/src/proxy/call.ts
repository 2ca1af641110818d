// One upstream request as an undici dispatch handler: the head as a promise, the body straight to the client.

// `pool.request()` wraps every response body in a Readable that the proxy then had to pipe with stream.pipeline, which
// creates an AbortController per request and aborts it (a DOMException with a stack) when the pipe finishes: profiled
// at ~20% of the gateway's CPU. Here the response head is a promise (Retry, CircuitBreaker and fallbacks decide on it),
// and body chunks go straight to the client response with undici's own pause/resume as backpressure.
import type http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { Span } from '@trellis/kit';
import type { Dispatcher } from 'undici';
import type { UpstreamAddress } from './auth-server.ts';
import { endUpstreamSpan, failUpstreamSpan } from './observe.ts';

export interface UpstreamHead {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
}

/** An upstream answer whose head is in and whose body is still to be streamed (or discarded). */
export interface Answer extends UpstreamHead {
  readonly call: UpstreamCall;
}

/** What the answer's headers become before anyone sees them (the auth server's cookies settled, in send.ts). */
export interface HeadSettler {
  settle(headers: IncomingHttpHeaders, target: UpstreamAddress): IncomingHttpHeaders;
}

/** Body bytes held while nobody is attached yet; past this the upstream socket is paused. */
const HELD_LIMIT = 64 * 1024;

export class UpstreamCall implements Dispatcher.DispatchHandler {
  /** The answer, once its head is in: what the attempt resolves to, with no async step of its own in between. */
  readonly head: Promise<Answer>;
  /** The call's CLIENT span (tracing on), ended when the body has ended or the call failed. */
  span: Span | undefined = undefined;
  /** Told when the upstream fails after its head was in (the client's connection is cut then): the gateway logs it. */
  onCut: ((err: Error) => void) | undefined = undefined;
  #status = 0;
  #aborted = false;
  #resolve!: (answer: Answer) => void;
  readonly #settler: HeadSettler;
  readonly #target: UpstreamAddress;
  #reject!: (err: Error) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #abortReason: Error | undefined;
  #started = false;
  #sink: http.ServerResponse | undefined;
  /** Chunks that arrived with the head, before the client response was attached (usually the whole small body). */
  #held: Buffer[] | undefined;
  #heldBytes = 0;
  #ended = false;
  #failed = false;
  #discarding = false;
  #onDiscarded: (() => void) | undefined;

  constructor(settler: HeadSettler, target: UpstreamAddress) {
    this.#settler = settler;
    this.#target = target;
    this.head = new Promise<Answer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason !== undefined) controller.abort(this.#abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return;
    this.#started = true;
    this.#status = statusCode;
    this.#resolve({ statusCode, headers: this.#settler.settle(headers, this.#target), call: this });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#discarding) return;
    const sink = this.#sink;
    if (sink !== undefined) {
      if (sink.destroyed) return;
      if (!sink.write(chunk)) controller.pause();
      return;
    }
    (this.#held ??= []).push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes > HELD_LIMIT) controller.pause();
  }

  onResponseEnd(): void {
    this.#ended = true;
    if (this.span !== undefined) {
      endUpstreamSpan(this.span, this.#status);
      this.span = undefined;
    }
    this.#sink?.end();
    this.#onDiscarded?.();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#failed = true;
    if (this.span !== undefined) {
      if (this.#started) this.span.setAttribute('http.response.status_code', this.#status);
      failUpstreamSpan(this.span, err);
      this.span = undefined;
    }
    if (!this.#started) {
      this.#reject(err);
      return;
    }
    // Mid-body: the client connection cannot carry a complete answer any more, so it goes too.
    if (!this.#aborted) this.onCut?.(err);
    this.#sink?.destroy();
    this.#onDiscarded?.();
  }

  /** Streams the body into `res`, whose head the caller has written. */
  pipeTo(res: http.ServerResponse): void {
    this.#sink = res;
    const held = this.#held;
    this.#held = undefined;
    if (this.#ended) {
      // The whole body is in: its last chunk goes with end(), so node corks the head and the body into one write
      // itself (a write() first would also schedule an uncork on the next tick, per response).
      const last = held?.pop();
      if (held !== undefined) for (const chunk of held) res.write(chunk);
      res.end(last);
      return;
    }
    if (held !== undefined) for (const chunk of held) res.write(chunk);
    if (this.#failed) {
      res.destroy();
      return;
    }
    // Made here, not per call: most bodies have ended by now (a small one comes with the head).
    res.on('drain', () => this.#controller?.resume());
    if (this.#controller?.paused === true && !res.writableNeedDrain) this.#controller.resume();
  }

  /** Reads the body to its end without keeping it (a retried or replaced answer), so the connection is reused. */
  discard(): Promise<void> {
    this.#discarding = true;
    this.#held = undefined;
    if (this.#ended || this.#failed) return Promise.resolve();
    const done = new Promise<void>((resolve) => (this.#onDiscarded = resolve));
    if (this.#controller?.paused === true) this.#controller.resume();
    return done;
  }

  /** The client left: stop the upstream call (its socket closes rather than going back to the pool half-read). */
  abort(reason: Error): void {
    if (this.#ended || this.#failed) return;
    this.#aborted = true;
    if (this.#controller === undefined) this.#abortReason = reason;
    else this.#controller.abort(reason);
  }
}
