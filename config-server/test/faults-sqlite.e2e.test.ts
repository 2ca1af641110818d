// Fault injection on the SQLite property store of a real `trellis config-server`: SIGKILL in the middle of a write
// loop (every acknowledged write survives, history stays whole), and a full disk (clear refusals, reads go on).
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqlite } from '@trellis/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { startTrellis, type TrellisProcess } from '../../kit/test/support/trellis-process.ts';
import { OPS, putProperties, replay, type ChangeJson } from './postgres/helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'config-faults-sqlite-'));
const started: TrellisProcess[] = [];
afterAll(async () => {
  for (const s of started) await s.stop();
  rmSync(root, { recursive: true, force: true });
});

const SCOPE = 'faults/default/master';

async function configServer(dataDir: string, wrapper?: readonly string[]): Promise<TrellisProcess> {
  const server = await startTrellis(
    [
      'config-server',
      '--http',
      '--port',
      '0',
      '--repo',
      root,
      '--data-dir',
      dataDir,
      '--backends',
      'sqlite',
      '--admins',
      'ops:ops-secret-1:*',
      '--health-show-details',
      'always',
    ],
    wrapper === undefined ? {} : { wrapper },
  );
  started.push(server);
  return server;
}

/** What the store holds, read from its file: the table, every change oldest first, and SQLite's own checks. */
function inspect(file: string) {
  const db = openSqlite(file, { readonly: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    const foreignKeys = db.pragma('foreign_key_check') as unknown[];
    const properties = Object.fromEntries(
      db
        .prepare<[], { KEY: string; VALUE: string }>('SELECT KEY, VALUE FROM PROPERTIES')
        .all()
        .map((r) => [r.KEY, r.VALUE]),
    );
    const rows = db
      .prepare<[], { ID: number; KEY: string | null; OLD_VALUE: string | null; NEW_VALUE: string | null }>(
        `SELECT c.ID, h.KEY, h.OLD_VALUE, h.NEW_VALUE FROM PROPERTY_CHANGES c
         LEFT JOIN PROPERTY_HISTORY h ON h.CHANGE_ID = c.ID ORDER BY c.ID, h.ROWID`,
      )
      .all();
    const history: ChangeJson[] = [];
    for (const r of rows) {
      if (history.at(-1)?.id !== r.ID) history.push({ id: r.ID, actor: '', kind: 'put', changes: [] });
      if (r.KEY !== null) history.at(-1)?.changes.push({ key: r.KEY, old: r.OLD_VALUE, new: r.NEW_VALUE });
    }
    return { integrity, foreignKeys, properties, history };
  } finally {
    db.close();
  }
}

interface Acked {
  readonly id: number;
  readonly body: Record<string, string>;
}

/**
 * `writers` loops, each writing its own sequence: `seq.<w>` overwritten with the step, `item.<w>.<n>` new each step
 * (its value padded with `pad` characters), and `batch` more keys `batch.<w>.<b>` overwritten with the step.
 * `inFlight` is each writer's request not yet answered.
 */
function writeLoop(base: string, writers: number, options: { pad?: number; batch?: number; tag?: string } = {}) {
  const pad = 'x'.repeat(options.pad ?? 0);
  const acked: Acked[] = [];
  const refused: { status: number; retryAfter: string | null; body: string }[] = [];
  const inFlight = new Map<number, Record<string, string>>();
  const thrown: unknown[] = [];
  let running = true;
  const writer = async (w: number): Promise<void> => {
    for (let n = 0; running; n++) {
      const name = `${options.tag ?? ''}${w}`;
      const body: Record<string, string> = { [`seq.${name}`]: String(n), [`item.${name}.${n}`]: `${n}:${pad}` };
      for (let b = 0; b < (options.batch ?? 0); b++) body[`batch.${name}.${b}`] = String(n);
      inFlight.set(w, body);
      try {
        const res = await putProperties(base, SCOPE, body);
        if (res.status === 200) {
          const { change } = (await res.json()) as { change: ChangeJson };
          acked.push({ id: change.id, body });
        } else {
          refused.push({ status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() });
          await sleep(20);
        }
        inFlight.delete(w);
      } catch (err) {
        // The connection died with the server: this write's fate is unknown to the writer.
        thrown.push(err);
        return;
      }
    }
  };
  const done = Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  return {
    acked,
    refused,
    inFlight,
    thrown,
    async stop(): Promise<void> {
      running = false;
      await done;
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function stored(base: string): Promise<Record<string, string>> {
  const res = await fetch(`${base}/admin/properties/${SCOPE}`, { headers: OPS });
  expect(res.status).toBe(200);
  return ((await res.json()) as { properties: Record<string, string> }).properties;
}

describe('the SQLite store killed (SIGKILL) in the middle of writes', () => {
  it('keeps every acknowledged write, a whole history and a sound file, over three kills', async () => {
    const dataDir = join(root, 'kill');
    const file = join(dataDir, 'config.sqlite');
    const allAcked: Acked[] = [];
    const unacknowledged: Record<string, string>[] = [];
    for (let round = 0; round < 3; round++) {
      const server = await configServer(dataDir);
      // A hundred keys a write: transactions long enough for a kill to land inside one now and then.
      const load = writeLoop(server.url, 4, { batch: 100, tag: `r${round}.` });
      // A varying moment: the kill lands in whatever step each writer is at (parsing, the transaction, the fsync).
      await until('writes before the kill', () => load.acked.length >= 150 + round * 37);
      await server.kill();
      await load.stop();
      expect(load.thrown.length).toBeGreaterThan(0);
      allAcked.push(...load.acked);
      unacknowledged.push(...load.inFlight.values());
    }

    const server = await configServer(dataDir);
    const served = await stored(server.url);
    // Every acknowledged write is there: each key holds what its last acknowledged write put, or what the write in
    // flight at the kill put (committed, the answer lost).
    const allowed = new Map<string, Set<string>>();
    for (const { body } of allAcked) for (const [k, v] of Object.entries(body)) allowed.set(k, new Set([v]));
    for (const body of unacknowledged) for (const [k, v] of Object.entries(body)) allowed.get(k)?.add(v);
    for (const [key, values] of allowed) expect(values, key).toContain(served[key]);
    // The environment clients read says the same.
    const env = (await (await fetch(`${server.url}/faults/default`)).json()) as {
      propertySources: { source: Record<string, string> }[];
    };
    expect(env.propertySources[0]?.source).toEqual(served);
    await server.stop();

    const { integrity, foreignKeys, properties, history } = inspect(file);
    expect(integrity).toBe('ok');
    expect(foreignKeys).toEqual([]);
    // Each change once, numbered without gaps; every acknowledged change is in it, and the only others are writes
    // in flight at a kill (committed, but the answer never reached the writer).
    const ids = history.map((c) => c.id);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
    const ackedIds = new Set(allAcked.map((a) => a.id));
    expect(ackedIds.size).toBe(allAcked.length);
    for (const id of ackedIds) expect(ids, `change ${id}`).toContain(id);
    const extra = history.filter((c) => !ackedIds.has(c.id));
    expect(extra.length).toBeLessThanOrEqual(unacknowledged.length);
    const unackedBodies = new Set(unacknowledged.map((b) => JSON.stringify(Object.keys(b).sort())));
    for (const c of extra) expect(unackedBodies).toContain(JSON.stringify(c.changes.map((k) => k.key).sort()));
    // Replayed from nothing, the history gives the table exactly: no write without its history, nor the reverse.
    const { state, mismatches } = replay(history);
    expect(mismatches).toEqual([]);
    expect(state).toEqual(properties);
    console.log(
      `SQLite kill -9 x3: ${allAcked.length} writes acknowledged, ${allAcked.length} restored; ` +
        `${unacknowledged.length} in flight at the kills, ${extra.length} of them committed; ` +
        `${history.length} changes, ids 1..${history.length} without gaps; integrity_check ${integrity}`,
    );
  }, 90_000);
});

describe('the SQLite store on a full disk', () => {
  it('refuses writes with a 503 and a reason, keeps serving reads, and writes again once space is freed', async () => {
    const dataDir = join(root, 'full');
    // The data directory on a 16 MiB tmpfs of the server's own (a mount namespace): filling it fills no real disk, and
    // it goes away with the process.
    const server = await configServer(dataDir, [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mkdir -p '${dataDir}' && mount -t tmpfs -o size=16m tmpfs '${dataDir}' && exec "$0" "$@"`,
    ]);
    // The server's view of its data directory, through its mount namespace.
    const seen = `/proc/${server.pid}/root${dataDir}`;
    const before = writeLoop(server.url, 2);
    await until('writes before the disk fills', () => before.acked.length >= 50);
    await before.stop();

    // Fill the file system to the last block.
    const filler = join(seen, 'filler');
    // Big pieces, then small ones for the last partly used page.
    for (const size of [64 * 1024, 512]) {
      const piece = Buffer.alloc(size, 1);
      for (;;) {
        try {
          appendFileSync(filler, piece);
        } catch (err) {
          expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
          break;
        }
      }
    }

    // Writes with large values, until the store can take no more (the WAL may have room left from before).
    const full = writeLoop(server.url, 2, { pad: 32 * 1024 });
    await until('refusals', () => full.refused.length >= 10);
    await full.stop();
    expect(full.thrown).toEqual([]);
    for (const r of full.refused) {
      expect(r.status).toBe(503);
      expect(r.retryAfter).not.toBeNull();
      expect(JSON.parse(r.body)).toMatchObject({
        status: 503,
        message: expect.stringMatching(/^the config database cannot be written: the disk is full/) as unknown,
      });
    }
    const ackedWhileFull = full.acked.length;
    // Reads go on: the write API's listing, the environment, health.
    const acked = [...before.acked, ...full.acked];
    const served = await stored(server.url);
    for (const { body } of acked)
      for (const [k, v] of Object.entries(body)) if (k.startsWith('item.')) expect(served[k]).toBe(v);
    for (let i = 0; i < 20; i++) expect((await fetch(`${server.url}/faults/default`)).status).toBe(200);
    const health = await fetch(`${server.url}/actuator/health`);
    expect(health.status).toBe(200);
    const history = await fetch(`${server.url}/admin/history/${SCOPE}?limit=1000`, { headers: OPS });
    expect(history.status).toBe(200);
    expect(((await history.json()) as { changes: unknown[] }).changes).toHaveLength(acked.length);

    // Space freed: writes work again at once, and nothing refused was stored.
    unlinkSync(filler);
    const after = writeLoop(server.url, 2, { pad: 1024 });
    await until('writes after space was freed', () => after.acked.length >= 20);
    await after.stop();
    expect(after.refused, JSON.stringify(after.refused.slice(0, 2))).toEqual([]);

    // SQLite resolves /proc/<pid>/root to this namespace's root: the files are copied out (no writer is running, and
    // the copy of database and WAL is what a crash would leave) and opened here.
    const copy = join(root, 'full-copy');
    mkdirSync(copy);
    for (const f of ['config.sqlite', 'config.sqlite-wal']) copyFileSync(join(seen, f), join(copy, f));
    const { integrity, properties, history: changes } = inspect(join(copy, 'config.sqlite'));
    expect(integrity).toBe('ok');
    const all = [...acked, ...after.acked];
    expect(changes.map((c) => c.id).sort((a, b) => a - b)).toEqual(all.map((a) => a.id).sort((a, b) => a - b));
    const { state, mismatches } = replay(changes);
    expect(mismatches).toEqual([]);
    expect(state).toEqual(properties);
    console.log(
      `SQLite disk full: ${before.acked.length} writes acknowledged before the disk was filled, ${ackedWhileFull} ` +
        `after it was full (room left in the WAL), ` +
        `${full.refused.length} refused with 503, ${after.acked.length} acknowledged after space was freed; ` +
        `${changes.length} changes stored, integrity_check ${integrity}`,
    );
  }, 90_000);
});
