// A reference server: bare node:http or node:https answering every request with the bytes of one file, no framework,
// no logging. It shows what serving a given body costs by itself (over TLS too), apart from the server under test.
// Arguments: <body file> <content-type> [<tls key file> <tls cert file>].
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

const [file, type, keyFile, certFile] = process.argv.slice(2);
if (file === undefined || type === undefined) throw new Error('usage: static.ts <body file> <content-type> [key cert]');
const body = readFileSync(file);
const answer = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
  res.writeHead(200, { 'content-type': type, 'content-length': body.byteLength });
  res.end(body);
};
const tls = keyFile !== undefined && certFile !== undefined;
const server = tls
  ? https.createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, answer)
  : http.createServer(answer);
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  process.stdout.write(`ready ${tls ? 'https' : 'http'}://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
