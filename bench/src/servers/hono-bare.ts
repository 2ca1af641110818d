// Reference only: hono on @hono/node-server with one route and nothing else, to show the framework's own cost.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.get('/actuator/health', (c) => c.json({ status: 'UP' }));
const listener = getRequestListener(app.fetch);
const server = http.createServer((req, res) => void listener(req, res));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`ready http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
