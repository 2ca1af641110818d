// Hands a node request to the kit service's hono app (actuator endpoints only: low volume, so the WHATWG
// Request/Response conversion costs nothing that matters, and the proxy path never pays it).
import type http from 'node:http';
import { Readable } from 'node:stream';
import type { KitEnv } from '@trellis/kit';
import type { Hono } from 'hono';

export async function serveWithApp(
  app: Hono<KitEnv>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '');
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const request = new Request(`http://localhost${req.url ?? '/'}`, {
    method,
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  });
  const response = await app.fetch(request, { incoming: req, outgoing: res });
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') out[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  res.writeHead(response.status, out);
  if (response.body === null) {
    res.end();
    return;
  }
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
  res.end();
}
