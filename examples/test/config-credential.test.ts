// `trellis up` hands each service its config credential inside SPRING_CLOUD_CONFIG_URI: a refused or failed fetch
// must say what went wrong without echoing that credential.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, StartupError } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogger } from '../../kit/test/support/logger.ts';
import { productComponent } from '../src/index.ts';

const SECRET = 'Cr3dential-in-the-uri';
let server: Server;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trellis-config-credential-'));
  // A config server that refuses the credential, as one with other CONFIG_CLIENTS would.
  server = createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="config-server"' });
    res.end('{"status":401,"error":"Unauthorized"}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
afterAll(async () => {
  server.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('an example service whose config credential is refused', () => {
  it('fails to start with a message naming the setting and the server, never the credential', async () => {
    const { logger, text } = captureLogger();
    const uri = `http://landscape:${SECRET}@127.0.0.1:${(server.address() as AddressInfo).port}`;
    const env = { SPRING_CLOUD_CONFIG_URI: uri, PRODUCT_PORT: '0', TRELLIS_DATA_DIR: dataDir };
    const settings = loadSettings(productComponent.settings, { env });
    const err = await productComponent.start(settings, { logger, env }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StartupError);
    const message = (err as Error).message;
    expect(message).toMatch(/^product: cannot load its configuration from --config-uri \(SPRING_CLOUD_CONFIG_URI\): /);
    expect(message).toContain('127.0.0.1');
    expect(message).not.toContain(SECRET);
    expect(text()).not.toContain(SECRET);
  });
});
