// A kit service with routes behind the resource-server guard. It serves its own JWKS (the public keys the scenario
// hands it in BENCH_JWKS), so the guard downloads keys over HTTP exactly as it would from the auth server.
import { createLogger, createService, runUntilSignal } from '@trellis/kit';
import { requireAuth, requireScopes } from '@trellis/clients/security';
import { guardEnv } from './guard-env.ts';

const { jwks, issuer, audience } = guardEnv('guarded-service');
// The request line at info costs more than the guard itself (see the kit scenario); this measures the guard.
const logger = createLogger({ name: 'bench-guarded', level: process.env.LOG_LEVEL ?? 'warn', format: 'json' });
await runUntilSignal(
  async (started) => {
    const service = createService({ name: 'bench-guarded', logger });
    const endpoint = await service.listen({ port: 0, host: '127.0.0.1' });
    const jwksUri = `http://127.0.0.1:${endpoint.port}/jwks`;
    // Routes are added after listen because the JWKS URL names the port; no request can arrive before `ready`.
    service.app.get('/jwks', (c) => c.body(jwks, 200, { 'content-type': 'application/jwk-set+json' }));
    service.app.get('/open', (c) => c.json({ status: 'UP' }));
    const auth = requireAuth({ issuer, audience, jwksUri });
    service.app.get('/product', auth, requireScopes('product:read'), (c) => c.json({ client: c.get('auth').clientId }));
    const uncached = requireAuth({ issuer, audience, jwksUri, verifiedTokenCacheSize: 0 });
    service.app.get('/product-uncached', uncached, requireScopes('product:read'), (c) =>
      c.json({ client: c.get('auth').clientId }),
    );
    started.push({ name: 'bench-guarded', endpoints: [endpoint], stop: () => service.stop() });
    process.stdout.write(`ready http://127.0.0.1:${endpoint.port}\n`);
  },
  { logger },
);
