// @fastify/http-proxy, the proxy a Node team on Fastify would put in front: the one Path route (/product) to the
// upstream, Fastify's defaults (logger off), no token check. Arguments: <upstream origin> <port>.
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const [upstream, port] = process.argv.slice(2);
if (upstream === undefined || port === undefined) throw new Error('usage: fastify-proxy.ts <upstream origin> <port>');

const app = Fastify();
await app.register(proxy, { upstream, prefix: '/product', rewritePrefix: '/product' });
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.stdout.write(`ready http://127.0.0.1:${port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
