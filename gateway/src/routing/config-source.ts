// Routes from the config server: the application `gateway`'s `spring.cloud.gateway.*` properties.

// The server sends them flattened as Spring's Environment carries them (`spring.cloud.gateway.routes[0].id`,
// `…routes[0].predicates[0]=Path=/x/**`, `…routes[0].filters[1].args.replenishRate`). They are nested back into the
// tree a routes file gives and read by the same code, so both sources mean the same thing.
import { ConfigClientError, Secret, type ConfigClient, type ConfigProperties } from '@trellis/clients/config';
import { GatewayError } from '../errors.ts';
import { envLookup, readGatewayTree, type GatewayLayer } from './document.ts';
import type { RouteSource } from './manager.ts';

/** Route values are needed as written; the config client wraps secret-looking ones (a uri with a password). */
function reveal(node: unknown): unknown {
  if (node instanceof Secret) return node.reveal();
  if (Array.isArray(node)) return node.map(reveal);
  if (typeof node === 'object' && node !== null) {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, reveal(v)]));
  }
  return node;
}

/**
 * Reads the gateway's parts from a fetched configuration. `${…}` placeholders resolve against the configuration's own
 * properties first (every source the server sent, `application.yml` included), then the process environment.
 *
 * @example
 * const layer = readGatewayProperties(config.current, process.env);
 */
export function readGatewayProperties(
  properties: ConfigProperties,
  env: Readonly<Record<string, string | undefined>> = {},
): GatewayLayer {
  const tree = reveal(properties.getObject('spring.cloud.gateway'));
  const lookup = (key: string): string | undefined => {
    const value = properties.get(key);
    if (value === undefined) return envLookup(env, key);
    return value instanceof Secret ? value.reveal() : String(value);
  };
  return readGatewayTree({ spring: { cloud: { gateway: tree } } }, lookup);
}

/**
 * The config server as a route source: `load(false)` reads the configuration the client holds (the client follows the
 * server's watch stream), `load(true)` fetches it again first.
 */
export function configRouteSource(
  client: Pick<ConfigClient, 'current' | 'refresh' | 'status'>,
  env: Readonly<Record<string, string | undefined>> = {},
): RouteSource {
  const name = `config server ${client.status().server} (application ${client.current.name})`;
  return {
    name,
    async load(fresh) {
      if (fresh) {
        try {
          await client.refresh();
        } catch (err) {
          if (!(err instanceof ConfigClientError)) throw err;
          throw new GatewayError(
            'service_unavailable',
            `${name} cannot be reached (${err.message}); the routes in force are kept`,
            { cause: err },
          );
        }
      }
      const properties = client.current;
      try {
        return readGatewayProperties(properties, env);
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err;
        const version = properties.version === null ? '' : ` version ${properties.version}`;
        throw new GatewayError(err.code, `${name}${version}: ${err.message}`, { cause: err });
      }
    },
  };
}
