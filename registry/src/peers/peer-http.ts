// HTTP to peers: one undici agent for all of them (keep-alive under the peer's own idle timeout, bounded connect
// time), gzip read when the peer compresses. Injected into the replicator and the start-up sync so tests can put a
// fake peer or an in-process app behind it.
import { createAgent, readText } from '@trellis/clients/http';
import { request } from 'undici';

export interface PeerRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Longest wait for the answer's headers and between body chunks. */
  readonly timeoutMs: number;
}

export interface PeerAnswer {
  readonly status: number;
  readonly body: string;
}

export type PeerHttp = (request: PeerRequest) => Promise<PeerAnswer>;

/** The real transport; `close` releases its sockets on shutdown. */
export function createPeerHttp(options: { connectTimeoutMs: number }): { send: PeerHttp; close(): Promise<void> } {
  const agent = createAgent({ connectTimeoutMs: options.connectTimeoutMs });
  const send: PeerHttp = async (req) => {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      dispatcher: agent,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    });
    return { status: res.statusCode, body: await readText(res) };
  };
  // Destroy, not close: a batch stuck on a dead peer must not hold up shutdown until its timeout.
  return { send, close: () => agent.destroy() };
}
