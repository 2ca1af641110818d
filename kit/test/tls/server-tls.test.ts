import { X509Certificate } from 'node:crypto';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartupError } from '../../src/errors.ts';
import { ensureDevCertificates, serverTls } from '../../src/tls/index.ts';
import type { DevTlsMaterial } from '../../src/tls/index.ts';

let root: string;
let user: DevTlsMaterial;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trellis-server-tls-'));
  user = await ensureDevCertificates({ dir: join(root, 'user') });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('serverTls', () => {
  it("serves the user's certificate instead of creating a local CA", async () => {
    const dataDir = join(root, 'data-user');
    const tls = await serverTls({ dataDir, certFile: user.certFile, keyFile: user.keyFile });
    expect(tls.cert).toBe(user.cert);
    await expect(access(join(dataDir, 'tls'))).rejects.toThrow();
  });

  it('issues a certificate from the local CA under the data directory otherwise', async () => {
    const dataDir = join(root, 'data-dev');
    const tls = await serverTls({ dataDir });
    expect(tls.caFile).toBe(join(dataDir, 'tls', 'ca.pem'));
  });

  it('covers the extra host names it is given (a container name), as --tls-hostnames asks', async () => {
    const tls = await serverTls({ dataDir: join(root, 'data-names'), hostnames: ['config-server'] });
    const names = new X509Certificate(tls.cert).subjectAltName ?? '';
    expect(names).toContain('DNS:config-server');
    expect(names).toContain('DNS:localhost');
    const plain = await serverTls({ dataDir: join(root, 'data-plain') });
    expect(new X509Certificate(plain.cert).subjectAltName).not.toContain('DNS:config-server');
  });

  it('refuses a certificate without its key, and a missing file, as start-up errors', async () => {
    await expect(serverTls({ dataDir: root, certFile: user.certFile })).rejects.toThrow(
      new StartupError('--cert-file and --key-file go together: set both or neither'),
    );
    const missing = join(root, 'nope.pem');
    const err = await serverTls({ dataDir: root, certFile: missing, keyFile: user.keyFile }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toContain(missing);
  });
});
