// Config servers on one PostgreSQL database, for the tests of several instances: start them, write, read history.
import type { Running } from '@trellis/kit';
import { startConfigServer, tempRepo } from '../helpers.ts';

export const OPS = { authorization: `Basic ${Buffer.from('ops:ops-secret-1').toString('base64')}` };

export interface ChangeJson {
  id: number;
  actor: string;
  kind: string;
  changes: { key: string; old: string | null; new: string | null }[];
}

export interface JdbcServer {
  readonly url: string;
  readonly running: Running;
}

/** `count` config servers serving the jdbc backend from `databaseUrl`, write API on for `ops`, health detailed. */
export async function startJdbcServers(
  databaseUrl: string,
  count: number,
): Promise<{ servers: JdbcServer[]; stop(): Promise<void> }> {
  const repo = tempRepo({});
  const data = tempRepo({});
  const servers: JdbcServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.running.stop()));
    repo.remove();
    data.remove();
  };
  // All at once, as a deployment starts them: the schema is made once, under the migration lock.
  const started = await Promise.allSettled(
    Array.from({ length: count }, () =>
      startConfigServer({
        repo: repo.root,
        dataDir: data.root,
        env: {
          CONFIG_BACKENDS: 'jdbc',
          TRELLIS_DATABASE_URL: databaseUrl,
          CONFIG_ADMINS: 'ops:ops-secret-1:*',
          MANAGEMENT_ENDPOINT_HEALTH_SHOW_DETAILS: 'always',
        },
      }),
    ),
  );
  for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  return { servers, stop };
}

/** PUT through the admin API; answers the response as is (callers check the status). */
export function putProperties(base: string, path: string, body: Record<string, string | null>): Promise<Response> {
  return fetch(`${base}/admin/properties/${path}`, {
    method: 'PUT',
    headers: { ...OPS, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A scope's whole history, oldest first. */
export async function historyOf(base: string, path: string): Promise<ChangeJson[]> {
  const res = await fetch(`${base}/admin/history/${path}?limit=1000`, { headers: OPS });
  if (res.status !== 200) throw new Error(`history: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { changes: ChangeJson[] }).changes.reverse();
}

/** A scope's stored properties through the admin API. */
export async function propertiesOf(base: string, path: string): Promise<Record<string, string>> {
  const res = await fetch(`${base}/admin/properties/${path}`, { headers: OPS });
  if (res.status !== 200) throw new Error(`properties: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { properties: Record<string, string> }).properties;
}

/**
 * Replays a history oldest first, checking that each change's old value is what the one before left (nothing lost,
 * nothing interleaved); answers the state it ends in.
 */
export function replay(history: readonly ChangeJson[]): { state: Record<string, string>; mismatches: string[] } {
  const state = new Map<string, string>();
  const mismatches: string[] = [];
  for (const change of history) {
    for (const c of change.changes) {
      const before = state.get(c.key) ?? null;
      if (before !== c.old) mismatches.push(`change ${change.id} ${c.key}: old ${c.old}, but it was ${before}`);
      if (c.new === null) state.delete(c.key);
      else state.set(c.key, c.new);
    }
  }
  return { state: Object.fromEntries(state), mismatches };
}
