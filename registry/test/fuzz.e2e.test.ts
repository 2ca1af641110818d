// schemathesis on the registry as `trellis registry` runs it: every documented operation, in XML and JSON, with the
// write credential and without, and the stateful register → heartbeat → status override → metadata → cancel run the
// document's links describe; a refused write must leave GET /eureka/apps as it was.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz } from '../../kit/test/support/schemathesis.ts';
import { startTrellis, type TrellisProcess } from '../../kit/test/support/trellis-process.ts';

const WRITER = `Basic ${Buffer.from('fuzz-writer:fuzz-w-secret').toString('base64')}`;

/** Keys that change with time alone (renewals, the clock), dropped before the registry is compared. */
const TIME_KEYS = [
  'lastUpdatedTimestamp',
  'lastRenewalTimestamp',
  'renewalTimestamp',
  'lastDirtyTimestamp',
  'serviceUpTimestamp',
  'registrationTimestamp',
];

/**
 * Paths left out of the fuzzing: the /eureka/v2 mount and the trailing-slash spellings are the very same handlers as
 * /eureka/... (routes/*.test.ts request both), so the time goes to the distinct operations.
 */
const EXCLUDED = ['--exclude-path-regex', '^/eureka/v2/|.+/$'];

let server: TrellisProcess;
let dir: string;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'registry-fuzz-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await startTrellis(
    [
      'registry',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--data-dir',
      dir,
      '--write-auth',
      'basic:fuzz-writer:fuzz-w-secret',
      // Leases run out with time alone; the fuzz compares the registry around each refused write.
      '--eviction-interval-ms',
      '3600000',
      // Its log shows which writes took effect: the stateful run's chain reached an instance it registered.
      '--log-level',
      'info',
    ],
    // Every line: the test looks for the writes' log lines over the whole run.
    { timeoutMs: 30_000, keepLines: Infinity },
  );
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function operations(): Promise<number> {
  const doc = (await (await fetch(`${base}/v3/api-docs`)).json()) as { paths: Record<string, object> };
  const kept = Object.entries(doc.paths).filter(([p]) => !new RegExp(EXCLUDED[1] ?? '').test(p));
  return kept.reduce((n, [, item]) => n + Object.keys(item).length, 0);
}

describe('the registry under schemathesis', () => {
  it('passes every check with the write credential, the stateful run included', async () => {
    const result = await fuzz({
      baseUrl: base,
      // JSON answers, so their bodies are checked against the document (the run without credentials reads XML).
      headers: { Authorization: WRITER, Accept: 'application/json' },
      maxSeconds: 45,
      state: { urls: [`${base}/eureka/apps`], ignore: TIME_KEYS },
      args: EXCLUDED,
      configFile: fileURLToPath(new URL('fuzz.schemathesis.toml', import.meta.url)),
    });
    expect(result.failures, `${result.output}\n${server.output().slice(-4000)}`).toEqual([]);
    expect(result.operations).toBeGreaterThanOrEqual(await operations());
    // The links carried real ids: registered instances had their status overridden and were cancelled.
    const done = new Set(server.lines().map((line) => line.msg));
    for (const msg of ['instance registered', 'status override set', 'instance cancelled']) {
      expect(done.has(msg), msg).toBe(true);
    }
  }, 240_000);

  it('passes every check without credentials: each write is 401 and changes nothing', async () => {
    const before = await (await fetch(`${base}/eureka/apps`, { headers: { accept: 'application/json' } })).text();
    const result = await fuzz({
      baseUrl: base,
      maxSeconds: 15,
      state: { urls: [`${base}/eureka/apps`], ignore: TIME_KEYS },
      args: EXCLUDED,
      configFile: fileURLToPath(new URL('fuzz.schemathesis.toml', import.meta.url)),
    });
    expect(result.failures, `${result.output}\n${server.output().slice(-4000)}`).toEqual([]);
    expect(result.operations).toBeGreaterThanOrEqual(await operations());
    const after = await (await fetch(`${base}/eureka/apps`, { headers: { accept: 'application/json' } })).text();
    expect(after).toBe(before);
  }, 240_000);
});
