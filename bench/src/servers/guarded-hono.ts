// The resource-server guard on a plain hono app (no service kit): what the guard costs its host framework, apart from
// the kit's request ids, logging and error rendering. Serves its own JWKS as guarded-service.ts does.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { requireAuth, requireScopes, type AuthEnv } from '@trellis/clients/security';
import { guardEnv } from './guard-env.ts';

const { jwks, issuer, audience } = guardEnv('guarded-hono');
const app = new Hono<AuthEnv>();
const server = http.createServer((req, res) => void listener(req, res));
const listener = getRequestListener(app.fetch);
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  const auth = requireAuth({ issuer, audience, jwksUri: `http://127.0.0.1:${port}/jwks` });
  app.get('/jwks', (c) => c.body(jwks, 200, { 'content-type': 'application/jwk-set+json' }));
  app.get('/product', auth, requireScopes('product:read'), (c) => c.json({ client: c.get('auth').clientId }));
  process.stdout.write(`ready http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
