// fast-gateway, the Node API gateway a team would pick instead of Trellis's: the one Path route (/product, kept on
// the way up) to the upstream, its defaults (restana, keep-alive agent), no token check. Arguments: <upstream> <port>.
import gateway from 'fast-gateway';

const [upstream, port] = process.argv.slice(2);
if (upstream === undefined || port === undefined) throw new Error('usage: fast-gateway.ts <upstream origin> <port>');

const server = gateway({ routes: [{ prefix: '/product', prefixRewrite: '/product', target: upstream }] });
await server.start(Number(port), '127.0.0.1');
process.stdout.write(`ready http://127.0.0.1:${port}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
