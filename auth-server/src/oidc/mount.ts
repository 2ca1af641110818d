import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import type { KitEnv } from '@trellis/clients';
import type Provider from 'oidc-provider';
import type { TrustedProxies } from './proxies.ts';

const FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded'];

/** Holds the live provider: key rotation builds a new one and swaps it in without dropping the listener. */
export interface ProviderHolder {
  readonly current: Provider | undefined;
  readonly callback: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
}

/**
 * Hands a request to oidc-provider (a Koa app) on the raw Node request and response. Koa must read the body itself,
 * so hono's body is only touched when the kit's body limit already started reading a chunked body; the provider then
 * takes the text from `req.body`. X-Forwarded-* headers are dropped unless the peer is a trusted proxy.
 */
export function providerHandler(holder: ProviderHolder, proxies: TrustedProxies | undefined) {
  return async (c: Context<KitEnv>): Promise<Response> => {
    const env: Partial<KitEnv['Bindings']> | undefined = c.env;
    const callback = holder.callback;
    if (env?.incoming === undefined || env.outgoing === undefined || callback === undefined) {
      return c.json({ error: 'temporarily_unavailable', error_description: 'the provider is not ready' }, 503);
    }
    const req = env.incoming;
    if (proxies === undefined || !proxies.trusts(req.socket.remoteAddress)) {
      for (const h of FORWARDED) delete req.headers[h];
    }
    if (req.headers['transfer-encoding'] !== undefined && c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      (req as IncomingMessage & { body?: string }).body = await c.req.text();
    }
    await callback(req, env.outgoing);
    return RESPONSE_ALREADY_SENT;
  };
}
