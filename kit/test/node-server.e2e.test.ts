import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createService } from '../src/service.ts';
import { captureLogger } from './support/logger.ts';

/** Sends raw bytes and resolves with the first chunk of the answer; the socket stays open. */
async function open(port: number, text: string): Promise<{ socket: net.Socket; first: string }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(text);
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  return { socket, first: chunk.toString('latin1') };
}

describe('the node-level server', () => {
  it('hands Upgrade requests to the handler and cuts them on stop instead of waiting out the drain', async () => {
    const service = createService({
      name: 'demo',
      logger: captureLogger().logger,
      git: false,
      drainTimeoutMs: 5000,
    });
    service.onUpgrade((_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(d));
    });
    const { port } = await service.listen({ port: 0, host: '127.0.0.1' });
    const { socket, first } = await open(
      port,
      'GET /echo HTTP/1.1\r\nhost: localhost\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n',
    );
    expect(first).toMatch(/^HTTP\/1\.1 101 /);
    const closed = once(socket, 'close');
    const started = performance.now();
    await service.stop();
    await closed;
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('answers what node refused and CONNECT through the options it was given', async () => {
    const service = createService({
      name: 'demo',
      logger: captureLogger().logger,
      git: false,
      server: {
        clientError: (_err, socket) => socket.end('HTTP/1.1 400 Bad Request\r\nx-from: hook\r\n\r\n'),
        connect: (_req, socket) => socket.end('HTTP/1.1 405 Method Not Allowed\r\nx-from: hook\r\n\r\n'),
      },
    });
    const { port } = await service.listen({ port: 0, host: '127.0.0.1' });
    try {
      const refused = await open(
        port,
        'GET / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n',
      );
      expect(refused.first).toMatch(/^HTTP\/1\.1 400 Bad Request\r\nx-from: hook/);
      const connect = await open(port, 'CONNECT localhost:443 HTTP/1.1\r\nhost: localhost:443\r\n\r\n');
      expect(connect.first).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\nx-from: hook/);
    } finally {
      await service.stop();
    }
  });
});
