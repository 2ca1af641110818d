// The baseline every scenario is compared with: bare node:http answering a small JSON body, no framework, no logging.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const body = JSON.stringify({ status: 'UP' });
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`ready http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
