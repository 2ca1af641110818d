// schemathesis on the route API of a gateway started as `trellis gateway`: every check, the stateful phase following
// the document's links (create → read → refresh → list → delete), and a refused change must leave the route list as it was.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz } from '../../kit/test/support/schemathesis.ts';
import { PROCESS_ADMIN, PROCESS_ADMIN_AUTHORIZATION, spawnGateway, type GatewayProcess } from './process.ts';

describe('route API fuzzing', () => {
  let gateway: GatewayProcess;
  beforeAll(async () => {
    // No route in the file: a route created through the API with a file route's id overrides it, and deleting the
    // override puts the file's back in force (README, manager.ts; Spring's composite locator does the same), which the
    // stateful phase would read as a deleted resource still there. Deleting a file route is tested in admin.e2e.
    gateway = await spawnGateway('spring.cloud.gateway.routes: []\n');
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
  });

  it('finds no failure in any operation of the document', async () => {
    const result = await fuzz({
      baseUrl: gateway.url,
      maxSeconds: 45,
      state: {
        urls: [`${gateway.url}/actuator/gateway/routes`],
        headers: { authorization: PROCESS_ADMIN_AUTHORIZATION },
      },
      // What creating a route may refuse although the body has the document's shape: see the file's comments.
      configFile: fileURLToPath(new URL('fuzz.schemathesis.toml', import.meta.url)),
      args: [
        // The credential as schemathesis's own, so ignored_auth can take it away (a -H header it cannot).
        '--auth',
        `${PROCESS_ADMIN.user}:${PROCESS_ADMIN.password}`,
        // Only the gateway's own API: the actuator's operations are the kit's, fuzzed with the kit.
        '--include-path-regex',
        '^/actuator/gateway/',
      ],
    });
    expect(result.failures, result.output).toEqual([]);
    // listRoutes, getRoute, createRoute, deleteRoute, refreshRoutes, and the stateful sequences.
    expect(result.operations).toBeGreaterThanOrEqual(5);
  }, 240_000);
});
