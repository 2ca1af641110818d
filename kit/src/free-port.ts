// A loopback port nothing listens on right now, for a server that must know its port before it starts (a broker).
import { createServer } from 'node:net';

/** Binds port 0 on 127.0.0.1, reads the port the system gave, and frees it again. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
