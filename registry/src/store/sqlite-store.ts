// The registry store on SQLite (better-sqlite3): one file under the data directory, WAL journal so reads never wait
// for the writer, synchronous=NORMAL because a lost last write after a power cut costs at most one heartbeat cycle.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openSqlite, migrateSqlite } from '@trellis/kit';
import { parseInstance, parseActionType, parseInstanceStatus, renderInstance } from '../eureka/index.ts';
import type { LeaseRecord } from '../registry/events.ts';
import type { RegistryStore, RenewalWrite, StoredRegistry } from './store.ts';

/** The schema's numbered .sql files, applied in order on open. */
export const MIGRATIONS = new URL('./migrations/', import.meta.url);

interface InstanceRow {
  app: string;
  id: string;
  instance: string;
  overridden_status: string;
  action_type: string;
  registration_timestamp: number;
  last_renewal_timestamp: number;
  service_up_timestamp: number;
}

/**
 * Opens (creating when needed) the registry database; ':memory:' for tests.
 * @example const store = openSqliteStore(join(dataDir, 'registry.db'));
 */
export function openSqliteStore(file: string): RegistryStore {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = openSqlite(file, { wal: true });
  try {
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrateSqlite(db, { directory: MIGRATIONS, database: 'registry database' });
  } catch (err) {
    db.close();
    throw err;
  }

  const upsert = db.prepare(
    `INSERT INTO instances (app, id, instance, overridden_status, action_type, registration_timestamp,
       last_renewal_timestamp, service_up_timestamp)
     VALUES (@app, @id, @instance, @overridden_status, @action_type, @registration_timestamp,
       @last_renewal_timestamp, @service_up_timestamp)
     ON CONFLICT (app, id) DO UPDATE SET instance = excluded.instance, overridden_status = excluded.overridden_status,
       action_type = excluded.action_type, registration_timestamp = excluded.registration_timestamp,
       last_renewal_timestamp = excluded.last_renewal_timestamp, service_up_timestamp = excluded.service_up_timestamp`,
  );
  const remove = db.prepare('DELETE FROM instances WHERE app = ? AND id = ?');
  const renew = db.prepare(
    'UPDATE instances SET last_renewal_timestamp = ? WHERE app = ? AND id = ? AND last_renewal_timestamp < ?',
  );
  const setMeta = db.prepare(
    'INSERT INTO registry_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const getMeta = db.prepare<[string], { value: string }>('SELECT value FROM registry_meta WHERE key = ?');
  const all = db.prepare<[], InstanceRow>('SELECT * FROM instances');

  const save = db.transaction((lease: LeaseRecord, version: number) => {
    upsert.run(toRow(lease));
    setMeta.run('version', String(version));
  });
  const drop = db.transaction((app: string, id: string, version: number) => {
    remove.run(app, id);
    setMeta.run('version', String(version));
  });
  const renewAll = db.transaction((renewals: readonly RenewalWrite[]) => {
    for (const r of renewals) renew.run(r.at, r.app, r.id, r.at);
  });

  return {
    load(): StoredRegistry {
      const leases: LeaseRecord[] = [];
      const skipped: { app: string; id: string; reason: string }[] = [];
      for (const row of all.all()) {
        const lease = fromRow(row);
        if (typeof lease === 'string') {
          skipped.push({ app: row.app, id: row.id, reason: lease });
          remove.run(row.app, row.id);
        } else {
          leases.push(lease);
        }
      }
      const version = Number(getMeta.get('version')?.value ?? '0');
      return { leases, version: Number.isSafeInteger(version) ? version : 0, skipped };
    },
    save: (lease, version) => save(lease, version),
    remove: (app, id, version) => drop(app, id, version),
    saveRenewals: (renewals) => {
      if (renewals.length > 0) renewAll(renewals);
    },
    close: () => db.close(),
  };
}

function toRow(lease: LeaseRecord): InstanceRow {
  return {
    app: lease.instance.app,
    id: lease.instance.instanceId,
    instance: renderInstance(lease.instance, { format: 'json' }),
    overridden_status: lease.overriddenStatus,
    action_type: lease.actionType,
    registration_timestamp: lease.registrationTimestamp,
    last_renewal_timestamp: lease.lastRenewalTimestamp,
    service_up_timestamp: lease.serviceUpTimestamp,
  };
}

/** A stored row back to a lease, or the reason it cannot be (a file edited by hand, or written by a broken build). */
function fromRow(row: InstanceRow): LeaseRecord | string {
  const parsed = parseInstance(row.instance, 'application/json', row.app);
  if (!parsed.ok) return parsed.error.message;
  if (parsed.value.instanceId !== row.id) return `instance id ${parsed.value.instanceId} does not match the row`;
  const overriddenStatus = parseInstanceStatus(row.overridden_status);
  if (overriddenStatus === undefined) return `invalid overridden status ${row.overridden_status}`;
  const actionType = parseActionType(row.action_type);
  if (actionType === undefined) return `invalid action type ${row.action_type}`;
  return {
    instance: parsed.value,
    overriddenStatus,
    actionType,
    registrationTimestamp: row.registration_timestamp,
    lastRenewalTimestamp: row.last_renewal_timestamp,
    serviceUpTimestamp: row.service_up_timestamp,
  };
}
