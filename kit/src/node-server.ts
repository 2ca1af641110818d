// The one node-level server of a service: its listeners, what node answers before the handler, bind errors, drain.
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { hostCheck, refusedHost, refuseHost, refuseHostOnSocket, type HostCheck } from './allowed-hosts.ts';
import { StartupError } from './errors.ts';
import type { Logger } from './logger.ts';
import { finishedWithin } from './timeout.ts';
import { workerListenOptions } from './workers.ts';

export interface ListenOptions {
  readonly port: number;
  /** Interface to bind; all interfaces when omitted. */
  readonly host?: string;
  readonly tls?: { readonly key: string; readonly cert: string };
  /** How the port is set, named in the error when it cannot be bound (e.g. `--port (PORT)`). */
  readonly setting?: string;
}

export interface Endpoint {
  readonly protocol: 'http' | 'https';
  readonly port: number;
  /** A URL for this machine: `http://localhost:8761`. */
  readonly url: string;
}

/** What answers a raw socket node took over from HTTP: an `Upgrade` request, a CONNECT. */
export type SocketHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/** How the listeners treat what node handles before the request handler; every default is node's. */
export interface NodeServerOptions {
  /**
   * false: HTTP/1.1 requests without Host reach the handler, which refuses them itself (node's own 400 has no
   * body). Default true.
   */
  readonly requireHostHeader?: boolean;
  /**
   * true: the request handler sends `100 Continue` itself once it accepts a request, so a client that announced
   * `Expect: 100-continue` is not invited to upload a body about to be refused. Default false: node sends it first.
   */
  readonly handlerSendsContinue?: boolean;
  /** Answers, on the raw socket, a request node's parser refused (malformed, head too large); default node's bare 400/431. */
  readonly clientError?: (err: NodeJS.ErrnoException, socket: Duplex) => void;
  /** Answers CONNECT on the raw socket; without it node closes the connection. */
  readonly connect?: SocketHandler;
  /**
   * Host names served besides loopback ones, `*` for any (see hostCheck). Unset: a loopback listener serves only
   * loopback names and any other listener serves every name. Refused requests, upgrades and CONNECTs get 421.
   */
  readonly allowedHosts?: readonly string[] | undefined;
  /**
   * Most time a client may take to send a request's head, counted from the connection's opening (its first request)
   * or the request's first byte (later ones); then it gets 408 (through `clientError` when given) and is closed.
   * Checked every tenth of it (at most every second) rather than node's every 30 s. Default node's 60 s.
   */
  readonly headersTimeoutMs?: number | undefined;
  /** How long a kept-alive connection may sit idle between requests before it is closed. Default node's 5 s. */
  readonly keepAliveTimeoutMs?: number | undefined;
  /**
   * Most connections one listener holds at once; beyond it new ones are closed on arrival, and a warning says how many
   * (at most one every 10 s). Default no limit.
   */
  readonly maxConnections?: number | undefined;
}

/** node's http.Server options for a listener from NodeServerOptions. */
function serverOptionsOf(options: NodeServerOptions): http.ServerOptions {
  const headers = options.headersTimeoutMs;
  return {
    ...(options.requireHostHeader === false ? { requireHostHeader: false } : {}),
    ...(headers === undefined
      ? {}
      : {
          headersTimeout: headers,
          // node looks for expired heads every 30 s by default, which lets a slow client keep a connection 30 s past it.
          connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headers / 10))),
        }),
  };
}

export interface NodeServer {
  readonly endpoints: readonly Endpoint[];
  /** Binds one listener (HTTP, or HTTPS with `tls`). */
  listen(options: ListenOptions): Promise<Endpoint>;
  /** Serves `Upgrade` requests (WebSocket) with `handler`; without one node closes them. */
  onUpgrade(handler: SocketHandler): void;
  /**
   * Stops accepting, cuts upgraded connections (they never drain), waits up to `drainTimeoutMs` for in-flight
   * requests, then closes what is left.
   */
  close(drainTimeoutMs: number): Promise<void>;
}

export interface NodeServerConfig {
  /** Named in bind errors. */
  readonly name: string;
  readonly log: Logger;
  readonly handle: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  readonly options?: NodeServerOptions | undefined;
}

/** A listener's Host rule; replaced once the listener is bound (until then, nothing arrives). */
interface HostRule {
  admits: HostCheck;
}

/** Bind failures the user can fix, as one line naming the port and the setting. */
function bindError(err: unknown, name: string, opts: ListenOptions): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${opts.host ?? '*'}:${opts.port}`;
  const how = opts.setting === undefined ? '' : ` (set with ${opts.setting})`;
  if (code === 'EADDRINUSE') return new StartupError(`${name}: port ${opts.port} is already in use${how}`);
  if (code === 'EACCES') return new StartupError(`${name}: no permission to listen on ${where}${how}`);
  if (code === 'EADDRNOTAVAIL') return new StartupError(`${name}: address ${where} is not available here${how}`);
  return err;
}

export function createNodeServer(config: NodeServerConfig): NodeServer {
  const { log, handle } = config;
  const options = config.options ?? {};
  const servers: http.Server[] = [];
  const endpoints: Endpoint[] = [];
  const upgraded = new Set<Duplex>();
  let upgrade: SocketHandler | undefined;
  let closing = false;
  /** Each listener's Host rule, set once it is bound: the rule depends on the address it got. */
  const rules = new Map<http.Server, HostRule>();

  const serveUpgrade: SocketHandler = (req, socket, head) => {
    // One arriving on a kept-alive connection while draining would hold the close until the peer hung up.
    if (closing) {
      socket.destroy();
      return;
    }
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    upgrade?.(req, socket, head);
  };

  // Before any handler, interceptor or upgrade: a request for another host never reaches the data.
  const screened =
    (rule: HostRule, next: SocketHandler): SocketHandler =>
    (req, socket, head) => {
      const refused = refusedHost(rule.admits, req);
      if (refused === undefined) next(req, socket, head);
      else refuseHostOnSocket(log, req, socket, refused);
    };

  // Connections closed at maxConnections are counted and told at most every 10 s: a flood must not flood the log too.
  let dropped = 0;
  let dropTimer: NodeJS.Timeout | undefined;
  const tellDropped = (): void => {
    dropTimer = undefined;
    if (dropped === 0) return;
    log.warn(
      { dropped, maxConnections: options.maxConnections },
      'connections closed on arrival: the listener holds as many connections as it may',
    );
    dropped = 0;
    dropTimer = setTimeout(tellDropped, 10_000);
    dropTimer.unref();
  };
  const droppedConnection = (): void => {
    dropped++;
    if (dropTimer === undefined) tellDropped();
  };

  const create = (tls: ListenOptions['tls'], rule: HostRule): http.Server => {
    const serverOptions = serverOptionsOf(options);
    const screenedHandle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const refused = refusedHost(rule.admits, req);
      if (refused === undefined) handle(req, res);
      else refuseHost(log, req, res, refused);
    };
    const server = tls
      ? https.createServer({ ...serverOptions, key: tls.key, cert: tls.cert }, screenedHandle)
      : http.createServer(serverOptions, screenedHandle);
    if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
    if (options.maxConnections !== undefined) {
      server.maxConnections = options.maxConnections;
      server.on('drop', droppedConnection);
    }
    if (options.handlerSendsContinue === true) server.on('checkContinue', screenedHandle);
    if (options.clientError !== undefined) server.on('clientError', options.clientError);
    if (options.connect !== undefined) server.on('connect', screened(rule, options.connect));
    if (upgrade !== undefined) server.on('upgrade', screened(rule, serveUpgrade));
    return server;
  };

  async function listen(opts: ListenOptions): Promise<Endpoint> {
    // Refuses everything until bound, when the address the rule depends on is known.
    const rule: HostRule = { admits: () => false };
    const server = create(opts.tls, rule);
    try {
      server.listen({ port: opts.port, host: opts.host, ...workerListenOptions(opts.port) });
      await once(server, 'listening');
    } catch (err) {
      throw bindError(err, config.name, opts);
    }
    const address = server.address() as AddressInfo;
    rule.admits = hostCheck(address.address, options.allowedHosts);
    servers.push(server);
    rules.set(server, rule);
    const port = address.port;
    const protocol = opts.tls ? 'https' : 'http';
    const endpoint: Endpoint = { protocol, port, url: `${protocol}://localhost:${port}` };
    endpoints.push(endpoint);
    log.info({ url: endpoint.url }, 'listening');
    return endpoint;
  }

  async function close(drainTimeoutMs: number): Promise<void> {
    closing = true;
    // close() stops accepting and resolves once every connection has ended. A connection whose response was already
    // under way when shutdown began turns idle when it finishes (keep-alive), so idle ones are closed until all end;
    // polling costs nothing per request, unlike tracking every response.
    const closed = Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeIdleConnections();
          }),
      ),
    ).then(() => undefined);
    for (const socket of upgraded) socket.destroy();
    const sweeper = setInterval(() => {
      for (const s of servers) s.closeIdleConnections();
    }, 25);
    try {
      if (!(await finishedWithin(closed, drainTimeoutMs))) {
        log.warn('drain timed out; closing remaining connections');
        for (const s of servers) s.closeAllConnections();
        await closed;
      }
    } finally {
      clearInterval(sweeper);
    }
  }

  return {
    endpoints,
    listen,
    onUpgrade: (handler) => {
      const first = upgrade === undefined;
      upgrade = handler;
      if (first) for (const [s, rule] of rules) s.on('upgrade', screened(rule, serveUpgrade));
    },
    close,
  };
}
