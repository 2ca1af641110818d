// WebSocket pass-through (`ws://`, `lb:ws://`, or an http route that receives an Upgrade).

// The handshake is sent to the upstream with node's client, its 101 is relayed, then the two sockets are piped until
// either side closes.
import http, { STATUS_CODES } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger, Span } from '@trellis/kit';
import { errorBody, GatewayError } from '../errors.ts';
import type { HeaderMap } from '../routing/exchange.ts';
import { endUpstreamSpan, failUpstreamSpan } from './observe.ts';

export interface UpgradeOptions {
  readonly req: http.IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
  readonly target: { readonly host: string; readonly port: number; readonly secure: boolean };
  readonly path: string;
  /** Already without hop-by-hop headers; Connection and Upgrade are set again for this hop. */
  readonly headers: HeaderMap;
  readonly connectTimeoutMs: number;
  readonly routeId: string;
  readonly logger: Logger;
  /** The handshake's CLIENT span (tracing on), ended when the upstream answers or fails. */
  readonly span?: Span | undefined;
}

function headLines(status: number, headers: http.IncomingHttpHeaders | readonly string[]): string {
  let out = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) out += `${headers[i]}: ${headers[i + 1]}\r\n`;
  }
  return `${out}\r\n`;
}

export function pipeUpgrade(o: UpgradeOptions): void {
  const headers: HeaderMap = { ...o.headers, connection: 'Upgrade', upgrade: o.req.headers.upgrade ?? 'websocket' };
  if (headers.host === undefined) headers.host = `${o.target.host}:${o.target.port}`;
  const request = (o.target.secure ? https : http).request({
    host: o.target.host,
    port: o.target.port,
    method: o.req.method ?? 'GET',
    path: o.path,
    headers: headers as http.OutgoingHttpHeaders,
    timeout: o.connectTimeoutMs,
    agent: false,
  });
  let span = o.span;
  const endSpan = (status: number, err?: Error): void => {
    if (span === undefined) return;
    if (err === undefined) endUpstreamSpan(span, status);
    else failUpstreamSpan(span, err);
    span = undefined;
  };
  const fail = (err: GatewayError): void => {
    endSpan(0, err);
    request.destroy();
    writeRawError(o.socket, err);
  };
  // The client may go away while the upstream handshake is under way.
  o.socket.once('error', () => request.destroy());
  request.once('timeout', () =>
    fail(
      new GatewayError('gateway_timeout', 'the upstream did not accept the WebSocket in time', { route: o.routeId }),
    ),
  );
  request.once('error', () =>
    fail(new GatewayError('bad_gateway', 'the upstream refused or dropped the connection', { route: o.routeId })),
  );
  request.once('response', (res) => {
    endSpan(res.statusCode ?? 502);
    // The upstream declined the upgrade: relay its answer as is, then close.
    o.socket.write(headLines(res.statusCode ?? 502, res.rawHeaders));
    res.pipe(o.socket);
  });
  request.once('upgrade', (res, upstream, upstreamHead) => {
    endSpan(res.statusCode ?? 101);
    request.setTimeout(0);
    o.socket.write(headLines(res.statusCode ?? 101, res.rawHeaders));
    if (upstreamHead.length > 0) o.socket.write(upstreamHead);
    if (o.head.length > 0) upstream.write(o.head);
    const close = (): void => {
      upstream.destroy();
      o.socket.destroy();
    };
    upstream.once('error', close);
    o.socket.once('error', close);
    upstream.once('close', close);
    o.socket.once('close', close);
    upstream.pipe(o.socket);
    o.socket.pipe(upstream);
  });
  request.end();
}

/** An error answer written on a socket that has no ServerResponse (an upgrade request). */
export function writeRawError(socket: Duplex, err: GatewayError): void {
  if (socket.destroyed) return;
  const body = errorBody(err);
  const extra = Object.entries(err.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? err.code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`,
  );
}
