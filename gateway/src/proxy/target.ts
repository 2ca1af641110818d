// Target choice: the route a request matches, and the upstream it goes to (the route's URL, or an lb:// instance).
import type http from 'node:http';
import type { ServiceInstance } from '@trellis/clients/discovery';
import { GatewayError } from '../errors.ts';
import type { Match, Route, RouteTable } from '../routing/table.ts';
import type { Forwarding, ProxyDeps } from './forwarding.ts';
import { peerAddress } from './headers.ts';
import type { RequestTarget } from './screen.ts';

/** Where one attempt goes. */
export interface Target {
  readonly origin: string;
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  /** The lb:// instance chosen; undefined for a route with a URL. */
  readonly instance: ServiceInstance | undefined;
}

/** The first route of `table` whose predicates accept the request, or undefined. */
export function matchRoute(
  deps: ProxyDeps,
  table: RouteTable,
  req: http.IncomingMessage,
  target: RequestTarget,
): Match | undefined {
  return table.match({
    method: req.method ?? 'GET',
    path: target.path,
    query: target.query,
    headers: req.headers,
    remoteAddress: peerAddress(req.socket.remoteAddress),
    now: deps.now(),
  });
}

export function noRoute(req: http.IncomingMessage, path: string): GatewayError {
  return new GatewayError('no_route', `no route matches ${req.method ?? 'GET'} ${path}`);
}

/** The circuit breaker's fallback: the same request matched again on the fallback path, on the current table. */
export function fallbackForwarding(deps: ProxyDeps, fwd: Forwarding, fallbackPath: string): Forwarding {
  const view = fwd.match.view;
  const next = deps.table().match({ ...view, path: fallbackPath, query: view.query });
  if (next === undefined) {
    throw new GatewayError('no_route', `no route for the fallback ${fallbackPath}`, { route: fwd.route.id });
  }
  return fwd.toFallback(next);
}

/**
 * The upstream for one attempt: the route's URL, or for lb:// the balancer's choice among the UP instances (on a
 * retry, the next one after `previous` that was not `tried` yet).
 */
export function chooseTarget(
  deps: ProxyDeps,
  route: Route,
  previous: ServiceInstance | undefined,
  tried: ReadonlySet<string>,
): Target {
  const t = route.target;
  const secure = t.scheme === 'https' || t.scheme === 'wss';
  if (!t.lb) return { origin: t.origin, host: t.host, port: t.port, secure, instance: undefined };
  const instances = deps.discovery?.getInstances(t.host) ?? [];
  const chosen =
    previous === undefined ? deps.balancer.choose(t.host, instances) : deps.balancer.next(instances, previous, tried);
  if (chosen === undefined) {
    throw new GatewayError('service_unavailable', `no UP instance of ${t.host}`, { route: route.id });
  }
  // Spring Cloud LoadBalancer's rule: the scheme the route asks for when the instance has that port enabled.
  const useSecure = secure ? chosen.securePort.enabled || !chosen.port.enabled : !chosen.port.enabled;
  const port = useSecure ? chosen.securePort.port : chosen.port.port;
  return {
    origin: `${useSecure ? 'https' : 'http'}://${chosen.hostName}:${port}`,
    host: chosen.hostName,
    port,
    secure: useSecure,
    instance: chosen,
  };
}
