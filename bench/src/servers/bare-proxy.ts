// A reference: the least a Node reverse proxy can do on the gateway's stack — node:http in front, one undici Pool
// behind, headers and body passed through as they come, no routing, no filters, no logging. What the gateway costs
// beyond this is its own; what this costs is Node's. Argument: <upstream origin>.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

const upstream = process.argv[2];
if (upstream === undefined) throw new Error('usage: bare-proxy.ts <upstream origin>');
const pool = new Pool(upstream, { connections: 64 });

/** Writes the upstream's answer straight to the client's response. */
class PassThrough implements Dispatcher.DispatchHandler {
  constructor(private readonly res: http.ServerResponse) {}
  onRequestStart(): void {}
  onResponseStart(_controller: unknown, status: number, headers: Record<string, string | string[]>): void {
    this.res.writeHead(status, headers);
  }
  onResponseData(_controller: unknown, chunk: Buffer): void {
    this.res.write(chunk);
  }
  onResponseEnd(): void {
    this.res.end();
  }
  onResponseError(): void {
    if (this.res.headersSent) this.res.destroy();
    else this.res.writeHead(502).end();
  }
}

const server = http.createServer((req, res) => {
  pool.dispatch({ path: req.url ?? '/', method: req.method ?? 'GET', headers: req.headers }, new PassThrough(res));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`ready http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
