// schemathesis on `trellis config-server` as the README starts it: every documented operation, each finding a test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz } from '../../kit/test/support/schemathesis.ts';
import { startTrellis, type TrellisProcess } from '../../kit/test/support/trellis-process.ts';

const configRepo = fileURLToPath(new URL('../../config-repo', import.meta.url));
const SECRET = 'fuzz-ops-secret';
// One identity in both lists: schemathesis sends one Authorization header to every operation, the client routes
// check it against --clients and the write API against --admins.
const AUTHORIZATION = `Basic ${Buffer.from(`ops:${SECRET}`).toString('base64')}`;

let server: TrellisProcess;
let dataDir: string;
let base: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'config-fuzz-'));
  const port = await freePort();
  server = await startTrellis(
    [
      'config-server',
      '--http',
      '--port',
      String(port),
      '--repo',
      configRepo,
      '--data-dir',
      dataDir,
      '--backends',
      'native,sqlite',
      '--clients',
      `ops:${SECRET}:*;product:fuzz-product-secret:product`,
      '--admins',
      `ops:${SECRET}:*`,
      '--log-level',
      'warn',
      // The fuzzer presents a wrong credential to every operation to see it refused (ignored_auth): with the
      // default 10 (20 per address) its own address would be locked out after a few operations.
      '--max-credential-failures',
      '100000',
    ],
    // At warn, no `listening` line: it is up once its health is.
    {
      env: { ENCRYPT_KEY: 'fuzz-symmetric-key', NODE_ENV: 'development' },
      readyUrl: `http://127.0.0.1:${port}/actuator/health`,
    },
  );
  base = server.url;
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('fuzzing the config server', () => {
  it('finds no failure in any documented operation, and no refused write changes what is stored', async () => {
    const document = (await (await fetch(`${base}/v3/api-docs`)).json()) as { paths: Record<string, object> };
    const operations = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    const state = {
      urls: [`${base}/admin/history?limit=1000`, `${base}/product/docker`],
      // When a change was made; the environment's version changes with it and is covered by the history.
      ignore: ['at'],
    };
    const headers = { Authorization: AUTHORIZATION };
    // Spring's path templates overlap: GET /{name}/{profiles}/{label} also takes /encrypt/x/y (the environment of an
    // application called encrypt, in Spring too), so OPTIONS there truthfully allows GET, which the document lists
    // under the environment's template rather than /encrypt/{name}/{profiles}'s.
    const excludeChecks = ['allow_header_conformance'];
    const result = await fuzz({
      baseUrl: base,
      headers,
      maxSeconds: 45,
      state,
      excludeChecks,
      // A watch stream never ends, and schemathesis reads every body to its end (watch.e2e.test.ts covers them);
      // /decrypt has a run of its own below.
      args: ['--exclude-path-regex', '^/(watch/|decrypt)'],
    });
    expect(result.failures, `${result.output}\n${server.output().slice(-4000)}`).toEqual([]);
    // Spring's /decrypt answers 400 INVALID to text not encrypted with the installed key, and no schema can tell a
    // ciphertext of this key from any other text: every check but the one that valid-looking input is accepted. With
    // /encrypt (checked fully above), whose answers the stateful phase hands to /decrypt by the document's links.
    const decrypt = await fuzz({
      baseUrl: base,
      headers,
      maxSeconds: 15,
      state,
      excludeChecks: [...excludeChecks, 'positive_data_acceptance'],
      args: ['--include-path-regex', '^/(en|de)crypt'],
    });
    expect(decrypt.failures, `${decrypt.output}\n${server.output().slice(-4000)}`).toEqual([]);
    // Every operation but the two watch streams, the two /decrypt ones and /v3/api-docs (schemathesis's own source).
    expect(result.operations).toBeGreaterThanOrEqual(operations - 5);
    // /encrypt/status, the two /encrypt and the two /decrypt.
    expect(decrypt.operations).toBeGreaterThanOrEqual(5);
    // The write API was driven to store changes (its links: write, read back, history, rollback), so the refused-write
    // check compared a history that writes had filled.
    const history = (await (await fetch(`${base}/admin/history?limit=1000`, { headers })).json()) as {
      changes: { kind: string }[];
    };
    expect(history.changes.map((c) => c.kind)).toContain('put');
  }, 240_000);
});
