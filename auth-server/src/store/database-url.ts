// The database URL setting's check: PostgreSQL or nothing (SQLite in the data dir).
import { isPostgresUrl, SettingsError } from '@trellis/kit';

/** Refuses a database URL that is not PostgreSQL's; the message never repeats the URL (it may carry a password). */
export function checkDatabaseUrl(url: string | undefined, setting = '--database-url (TRELLIS_DATABASE_URL)'): void {
  if (url !== undefined && url !== '' && !isPostgresUrl(url)) {
    throw new SettingsError(
      `invalid ${setting}: only postgres:// or postgresql:// URLs are supported; leave it unset for SQLite in the data dir`,
    );
  }
}
