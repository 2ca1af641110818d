// The Host allow-list of the node-level server: DNS rebinding against loopback listeners, and --allowed-hosts.
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { hostName, parseAllowedHost } from '../src/allowed-hosts.ts';
import { commonSettings } from '../src/component.ts';
import { createService, type Service, type ServiceOptions } from '../src/service.ts';
import { loadSettings, SettingsError } from '../src/settings.ts';
import { captureLogger, type LogLine } from './support/logger.ts';

/** Sends raw bytes and resolves with everything the server wrote before it closed the connection. */
async function exchange(port: number, text: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(text);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

const get = (port: number, host: string | undefined, path = '/hello'): Promise<string> =>
  exchange(
    port,
    host === undefined
      ? `GET ${path} HTTP/1.0\r\n\r\n`
      : `GET ${path} HTTP/1.1\r\nhost: ${host}\r\ncookie: session=s3cret\r\nconnection: close\r\n\r\n`,
  );

let service: Service | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

/** A service whose app, interceptor, upgrade and CONNECT handlers count what reaches them. */
async function start(
  host: string,
  options: Pick<ServiceOptions, 'allowedHosts'> = {},
): Promise<{ port: number; reached: string[]; lines: readonly LogLine[] }> {
  const logs = captureLogger();
  const reached: string[] = [];
  service = createService({
    name: 'demo',
    logger: logs.logger,
    git: false,
    ...options,
    server: {
      connect: (_req, socket) => {
        reached.push('connect');
        socket.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
      },
    },
  });
  service.intercept((req) => {
    reached.push(`intercept ${req.url ?? ''}`);
    return false;
  });
  service.app.get('/hello', (c) => c.text('hello'));
  service.onUpgrade((_req, socket) => {
    reached.push('upgrade');
    socket.end('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n');
  });
  const { port } = await service.listen({ port: 0, host });
  return { port, reached, lines: logs.lines };
}

describe('a listener bound to loopback', () => {
  it('serves Host names that only this machine resolves to itself, with or without a port', async () => {
    const { port } = await start('127.0.0.1');
    for (const host of ['localhost', `localhost:${port}`, 'app.localhost', '127.0.0.1', '127.1.2.3:80', '[::1]:1']) {
      expect(await get(port, host)).toMatch(/^HTTP\/1\.1 200 [^]*hello$/);
    }
    // HTTP/1.0 without Host comes from no browser: the app decides (node-server's own 400 here), not the Host rule.
    expect(await get(port, undefined)).not.toMatch(/^HTTP\/1\.1 421 /);
  });

  it('answers 421 with a reason for any other Host before interceptors, probes or the app see it', async () => {
    const { port, reached, lines } = await start('127.0.0.1');
    for (const host of ['evil.example', `evil.example:${port}`, 'localhost.evil.example', '10.0.0.1', '[::2]']) {
      const answer = await get(port, host);
      expect(answer).toMatch(/^HTTP\/1\.1 421 Misdirected Request\r\n/);
      expect(answer).toMatch(/content-type: text\/plain/);
      expect(answer).toContain('--allowed-hosts (TRELLIS_ALLOWED_HOSTS)');
    }
    const refused = await get(port, 'evil.example', '/actuator/health');
    expect(refused).toMatch(/^HTTP\/1\.1 421 /);
    expect(reached).toEqual([]);
    const refusals = lines.filter((l) => l.msg === 'refused a request for a host this server does not answer');
    expect(refusals).toHaveLength(6);
    expect(refusals[0]).toMatchObject({ level: 30, host: 'evil.example', method: 'GET' });
    // The refusal carries a request id, as every answer does, and its log line the same one.
    const id = /\r\nx-request-id: ([\w-]+)\r\n/i.exec(refused)?.[1];
    expect(id).toMatch(/^[\w-]{8,}$/);
    expect(refusals[5]).toMatchObject({ reqId: id });
    expect(JSON.stringify(refusals)).not.toContain('s3cret');
  });

  it('refuses WebSocket upgrades and CONNECT naming another host on the raw socket', async () => {
    const { port, reached } = await start('127.0.0.1');
    const upgrade = await exchange(
      port,
      'GET /ws HTTP/1.1\r\nhost: evil.example\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n',
    );
    expect(upgrade).toMatch(/^HTTP\/1\.1 421 Misdirected Request\r\n[^]*--allowed-hosts/);
    expect(upgrade).toMatch(/\r\nx-request-id: [\w-]{8,}\r\n/);
    const connect = await exchange(port, 'CONNECT evil.example:443 HTTP/1.1\r\nhost: evil.example:443\r\n\r\n');
    expect(connect).toMatch(/^HTTP\/1\.1 421 /);
    expect(reached).toEqual([]);
    const allowed = await exchange(
      port,
      'GET /ws HTTP/1.1\r\nhost: localhost\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n',
    );
    expect(allowed).toMatch(/^HTTP\/1\.1 101 /);
    expect(reached).toEqual(['upgrade']);
  });

  it('also serves the names --allowed-hosts lists, and every name with *', async () => {
    const listed = await start('127.0.0.1', { allowedHosts: ['api.example'] });
    expect(await get(listed.port, 'API.example.:8080')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await get(listed.port, 'localhost')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await get(listed.port, 'evil.example')).toMatch(/^HTTP\/1\.1 421 /);
    await service?.stop();
    const any = await start('127.0.0.1', { allowedHosts: ['*'] });
    expect(await get(any.port, 'evil.example')).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('an absolute-form request target on a loopback listener', () => {
  it('is refused with 421 when it names another host, whatever the Host header says (RFC 9112 puts it first)', async () => {
    const { port, reached } = await start('127.0.0.1');
    for (const target of ['http://evil.example/', 'http://x@localhost:1234/', 'http://127.0.0.256/']) {
      const answer = await exchange(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 421 Misdirected Request\r\n/);
    }
    const http10 = await exchange(port, 'GET http://evil.example/ HTTP/1.0\r\n\r\n');
    expect(http10).toMatch(/^HTTP\/1\.1 421 /);
    expect(reached).toEqual([]);
    const own = await exchange(
      port,
      `GET http://localhost:${port}/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
    );
    expect(own).not.toMatch(/^HTTP\/1\.1 421 /);
  });
});

describe('a listener bound beyond loopback', () => {
  it('serves every Host unless --allowed-hosts is given (container and LAN names)', async () => {
    const open = await start('0.0.0.0');
    expect(await get(open.port, 'product-composite:7000')).toMatch(/^HTTP\/1\.1 200 /);
    await service?.stop();
    const listed = await start('0.0.0.0', { allowedHosts: ['gateway'] });
    expect(await get(listed.port, 'gateway:8080')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await get(listed.port, 'localhost')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await get(listed.port, 'evil.example')).toMatch(/^HTTP\/1\.1 421 /);
  });
});

describe('Host names and --allowed-hosts entries', () => {
  it('reads the name of a Host value, and nothing from a malformed one', () => {
    expect(hostName('[::1]:8761')).toBe('[::1]');
    expect(hostName('Evil.Example.:80')).toBe('evil.example');
    expect(hostName('::1')).toBeUndefined();
    expect(hostName('[::1]x')).toBeUndefined();
    // What no browser sends, and a lax reading would take for localhost.
    for (const odd of ['localhost:80@evil.example', 'localhost:abc', 'localhost:', '[::1]:x', 'user@localhost']) {
      expect(hostName(odd)).toBeUndefined();
    }
  });

  it('takes the list from the flag or TRELLIS_ALLOWED_HOSTS and refuses entries no Host could match', () => {
    const read = (env: Record<string, string>, argv: string[] = []) =>
      loadSettings(commonSettings(), { env, argv }).allowedHosts;
    expect(read({})).toBeUndefined();
    expect(read({ TRELLIS_ALLOWED_HOSTS: 'Gateway, 10.0.0.5,[fd00::1]' })).toEqual([
      'gateway',
      '10.0.0.5',
      '[fd00::1]',
    ]);
    expect(read({ TRELLIS_ALLOWED_HOSTS: 'a' }, ['--allowed-hosts', '*'])).toEqual(['*']);
    expect(() => read({ TRELLIS_ALLOWED_HOSTS: 'gateway:8080' })).toThrow(SettingsError);
    expect(() => read({}, ['--allowed-hosts', 'http://gateway'])).toThrow(/--allowed-hosts: "http:\/\/gateway" is not/);
    expect(() => parseAllowedHost('*.example')).toThrow(TypeError);
  });
});
