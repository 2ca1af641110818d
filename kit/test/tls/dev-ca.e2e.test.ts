import { execFile } from 'node:child_process';
import { get } from 'node:https';
import type { RequestOptions } from 'node:https';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevCertificates } from '../../src/tls/index.ts';
import type { DevTlsMaterial } from '../../src/tls/index.ts';
import { tempDirs } from './helpers.ts';

interface Reply {
  readonly status: number | undefined;
  readonly body: string;
}

/** One GET over a fresh connection (no agent), so every request does its own handshake and verification. */
function request(options: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = get({ ...options, agent: false, path: '/' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

interface CurlResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

function curl(args: readonly string[]): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile('curl', [...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(new Error('curl could not be run', { cause: err }));
        return;
      }
      resolve({ exitCode: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

async function curlIsInstalled(): Promise<boolean> {
  try {
    return (await curl(['--version'])).exitCode === 0;
  } catch {
    return false;
  }
}

const hasCurl = await curlIsInstalled();
const temp = tempDirs();
let tls: DevTlsMaterial;
let server: Server;
let port: number;

beforeAll(async () => {
  tls = await ensureDevCertificates({ dir: await temp.make() });
  server = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
    res.end('hello over tls');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  await temp.cleanup();
});

describe('an HTTPS server with the development certificate', () => {
  it('is trusted for localhost by a client that trusts ca.pem', async () => {
    // family 4: the server listens on 127.0.0.1 only, and localhost may resolve to ::1 first.
    const reply = await request({ hostname: 'localhost', family: 4, port, ca: tls.ca });
    expect(reply).toEqual({ status: 200, body: 'hello over tls' });
  });

  it('is trusted for 127.0.0.1 by a client that trusts ca.pem', async () => {
    const reply = await request({ host: '127.0.0.1', port, ca: tls.ca });
    expect(reply).toEqual({ status: 200, body: 'hello over tls' });
  });

  it('is refused by a client that does not trust the development CA', async () => {
    // The server sends the leaf alone, so a client without the CA cannot even build a chain.
    await expect(request({ hostname: 'localhost', family: 4, port })).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  it('is refused for a name the certificate does not cover, even with the CA trusted', async () => {
    await expect(request({ host: '127.0.0.1', servername: 'elsewhere.test', port, ca: tls.ca })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it.skipIf(!hasCurl)('is trusted by curl --cacert ca.pem for https://localhost', async () => {
    // --resolve pins localhost to the loopback address we listen on; --noproxy keeps a proxy variable from taking over.
    const base = ['--silent', '--show-error', '--noproxy', '*', '--resolve', `localhost:${port}:127.0.0.1`];
    const trusted = await curl([...base, '--cacert', tls.caFile, `https://localhost:${port}/`]);
    expect(trusted).toMatchObject({ exitCode: 0, stdout: 'hello over tls' });

    const untrusted = await curl([...base, `https://localhost:${port}/`]);
    // 60: peer certificate cannot be authenticated with known CA certificates.
    expect(untrusted.exitCode).toBe(60);
  });
});
