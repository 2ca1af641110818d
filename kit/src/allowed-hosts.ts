// The Host names a listener answers: loopback names on a loopback listener (DNS rebinding), plus what the user lists.
import type http from 'node:http';
import { isIPv4 } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from './logger.ts';
import { requestIdOf } from './request-log.ts';

/** Every Host is accepted: `*` in the list, or a listener beyond loopback with no list given. */
export const ANY_HOST = '*';

/** The setting named in refusals, so the person reading one knows what to change. */
export const ALLOWED_HOSTS_SETTING = '--allowed-hosts (TRELLIS_ALLOWED_HOSTS)';

const NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV6 = /^\[[0-9a-f:.]+\]$/;
const LOOPBACK_IPV4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * One entry of `--allowed-hosts`, lowercased: a host name, an IPv4 address, a bracketed IPv6 address or `*`;
 * throws on anything else (a port, a scheme, a path), which a Host comparison would never match.
 */
export function parseAllowedHost(raw: string): string {
  const entry = withoutTrailingDot(raw.trim().toLowerCase());
  if (entry === ANY_HOST || NAME.test(entry) || IPV6.test(entry)) return entry;
  throw new TypeError(`${JSON.stringify(raw)} is not a host name, an IP address ([…] for IPv6) or *`);
}

function withoutTrailingDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

const PORT = /^\d{1,5}$/;

/**
 * The name a Host header value carries, lowercased, without its port; undefined when it is no host at all (a port
 * that is not a number, `user@host`, two colons), which no browser sends.
 */
export function hostName(header: string): string | undefined {
  const host = header.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1 || (end + 1 < host.length && host[end + 1] !== ':')) return undefined;
    if (end + 1 < host.length && !PORT.test(host.slice(end + 2))) return undefined;
    return host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  if (colon !== -1 && !PORT.test(host.slice(colon + 1))) return undefined;
  const name = withoutTrailingDot(colon === -1 ? host : host.slice(0, colon));
  return NAME.test(name) ? name : undefined;
}

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The authority of an absolute-form request target (`GET http://host/path`), which RFC 9112 §3.2.2 puts before the
 * Host header and which some frameworks build URLs from; '' when it carries user info or does not parse (refused on a
 * checked listener), undefined for the usual origin-form target.
 */
export function absoluteFormHost(target: string | undefined): string | undefined {
  if (target === undefined || !ABSOLUTE_FORM.test(target)) return undefined;
  if (!URL.canParse(target)) return '';
  const url = new URL(target);
  return url.username !== '' || url.password !== '' ? '' : url.host;
}

/** Names only this machine resolves to itself: what a browser sends to a loopback server it was pointed at directly. */
export function isLoopbackName(name: string): boolean {
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    (LOOPBACK_IPV4.test(name) && isIPv4(name)) ||
    name === '[::1]'
  );
}

/** Whether a listener's bound address is loopback (as `server.address()` reports it). */
export function isLoopbackAddress(address: string): boolean {
  return LOOPBACK_IPV4.test(address) || address === '::1' || LOOPBACK_IPV4.test(address.replace(/^::ffff:/i, ''));
}

/** Decides a request's Host (and an absolute-form target's authority) for one listener; true when it may be served. */
export type HostCheck = (host: string | undefined) => boolean;

/**
 * Checks both names a request gives, its Host and the authority of an absolute-form target; answers the one refused,
 * or undefined when the request may be served.
 */
export function refusedHost(check: HostCheck, req: http.IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (!check(host)) return host ?? '';
  const target = absoluteFormHost(req.url);
  return target === undefined || check(target) ? undefined : target;
}

const anyHost: HostCheck = () => true;

/**
 * The rule for a listener bound to `address`. On loopback, a web page whose own name was re-pointed at 127.0.0.1
 * (DNS rebinding) reaches the server from the victim's browser with its own name as Host: only loopback names and
 * the listed ones are served. Beyond loopback (0.0.0.0, a LAN address, a container's) any Host is served unless a
 * list is given. A request without Host (HTTP/1.0) comes from no browser and is served.
 */
export function hostCheck(address: string, allowed: readonly string[] | undefined): HostCheck {
  if (allowed?.includes(ANY_HOST) === true) return anyHost;
  if (allowed === undefined && !isLoopbackAddress(address)) return anyHost;
  const listed = new Set(allowed ?? []);
  let lastAccepted: string | undefined;
  return (host) => {
    // Clients send one Host over and over; the last one accepted is remembered, so the check costs one comparison.
    if (host === undefined || host === lastAccepted) return true;
    const name = hostName(host);
    if (name === undefined || !(isLoopbackName(name) || listed.has(name))) return false;
    lastAccepted = host;
    return true;
  };
}

const REFUSAL_STATUS = 421;

function refusalBody(host: string): string {
  const shown = JSON.stringify(host.length > 100 ? `${host.slice(0, 100)}…` : host);
  return `Misdirected Request: this server does not answer for Host ${shown}; add the name to ${ALLOWED_HOSTS_SETTING} to serve it\n`;
}

function logRefusal(log: Logger, req: http.IncomingMessage, host: string): void {
  log.info(
    { reqId: requestIdOf(req), host: host.slice(0, 200), method: req.method },
    'refused a request for a host this server does not answer',
  );
}

/** Answers a request whose Host was refused: 421 with the reason, the connection closed. */
export function refuseHost(log: Logger, req: http.IncomingMessage, res: http.ServerResponse, host: string): void {
  logRefusal(log, req, host);
  const body = refusalBody(host);
  res.writeHead(REFUSAL_STATUS, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
    // Like every answer, so a refusal can be found in the log by the id its caller got.
    'x-request-id': requestIdOf(req),
  });
  res.end(body);
}

/** The same answer on a raw socket (Upgrade, CONNECT), which is then closed. */
export function refuseHostOnSocket(log: Logger, req: http.IncomingMessage, socket: Duplex, host: string): void {
  logRefusal(log, req, host);
  const body = refusalBody(host);
  socket.end(
    `HTTP/1.1 ${REFUSAL_STATUS} Misdirected Request\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestIdOf(req)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
