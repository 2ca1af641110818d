// `trellis clients`, `trellis users` and `trellis auth-server rotate-keys`: the auth server's state in the data directory
// (or its PostgreSQL database).
import { loadSettings, renderSettingsHelp, setting, SettingsError, type SettingSpecs } from '@trellis/kit';

type Env = Readonly<Record<string, string | undefined>>;

export interface AdminIo {
  readonly stdout: { write(text: string): unknown };
  readonly readStdin: () => Promise<string>;
}

const store = {
  dataDir: setting.string({ flag: 'data-dir', env: 'TRELLIS_DATA_DIR', default: './data', help: 'data directory' }),
  databaseUrl: setting.string({
    flag: 'database-url',
    env: 'TRELLIS_DATABASE_URL',
    secret: true,
    help: "the auth server's PostgreSQL database (postgres://…), when it runs with one; unset: SQLite in the data directory",
  }),
  keyEncryptionKey: setting.string({
    env: 'AUTH_KEY_ENCRYPTION_KEY',
    secret: true,
    help: 'key that seals the auth server state (default: <data-dir>/auth-master.key)',
  }),
} satisfies SettingSpecs;

const clientFlags = {
  ...store,
  scope: setting.string({ flag: 'scope', help: 'space-separated scopes, e.g. "product:read product:write"' }),
  name: setting.string({ flag: 'name', help: 'display name' }),
  redirectUris: setting.list({ flag: 'redirect-uri', help: 'comma-separated redirect URIs (authorization code)' }),
  grantTypes: setting.list({ flag: 'grant-types', help: 'comma-separated grant types (default client_credentials)' }),
  public: setting.boolean({ flag: 'public', default: false, help: 'a public client (no secret, PKCE required)' }),
} satisfies SettingSpecs;

const userFlags = {
  ...store,
  name: setting.string({ flag: 'name', help: 'display name' }),
  email: setting.string({ flag: 'email', help: 'e-mail address' }),
} satisfies SettingSpecs;

/** The flags `trellis clients` and `trellis users` take, for completion. */
export const CLIENTS_FLAGS: SettingSpecs = clientFlags;
export const USERS_FLAGS: SettingSpecs = userFlags;

/** Splits `<action> [<id>] [--flags]`: the id is the first word that is not a flag. */
function positional(argv: readonly string[]): { action?: string; id?: string; flags: string[] } {
  const [action, maybeId, ...rest] = argv;
  if (maybeId === undefined || maybeId.startsWith('-')) {
    return { action, flags: maybeId === undefined ? rest : [maybeId, ...rest] };
  }
  return { action, id: maybeId, flags: rest };
}

function need(id: string | undefined, what: string): string {
  if (id === undefined) throw new SettingsError(`missing ${what} (see --help)`);
  return id;
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** The auth server's management functions, loaded only by these commands (not by `trellis product`). */
const authServer = () => import('@trellis/auth-server');

export const CLIENTS_HELP = `Usage: trellis clients <add|list|show|rotate-secret|remove> [client-id] [flags]

Manages the auth server's OAuth clients in the data directory (works while the server runs).
A new or rotated secret is printed once; only its hash is kept.

${renderSettingsHelp(clientFlags)}`;

export const USERS_HELP = `Usage: trellis users <add|list|remove> [username] [flags]

Manages the auth server's local users. 'add' reads the password from standard input:
  printf '%s' "$PASSWORD" | trellis users add alice

${renderSettingsHelp(userFlags)}`;

/** `trellis clients …` */
export async function clientsCommand(argv: readonly string[], env: Env, io: AdminIo): Promise<void> {
  const { action, id, flags } = positional(argv);
  const s = loadSettings(clientFlags, { argv: flags, env });
  const dir = { dataDir: s.dataDir, keyEncryptionKey: s.keyEncryptionKey, databaseUrl: s.databaseUrl };
  const { addClient, listClients, removeClient, rotateSecret, showClient } = await authServer();
  switch (action) {
    case 'add': {
      const created = await addClient(dir, {
        client_id: need(id, 'client id'),
        ...(s.name === undefined ? {} : { client_name: s.name }),
        ...(s.scope === undefined ? {} : { scope: s.scope }),
        ...(s.redirectUris === undefined ? {} : { redirect_uris: s.redirectUris }),
        ...(s.grantTypes === undefined ? {} : { grant_types: s.grantTypes }),
        ...(s.public ? { token_endpoint_auth_method: 'none' } : {}),
      });
      io.stdout.write(json({ ...created.client, client_secret: created.client_secret }));
      return;
    }
    case 'list':
      io.stdout.write(json(await listClients(dir)));
      return;
    case 'show':
      io.stdout.write(json(await showClient(dir, need(id, 'client id'))));
      return;
    case 'rotate-secret':
      io.stdout.write(json({ client_id: id, client_secret: await rotateSecret(dir, need(id, 'client id')) }));
      return;
    case 'remove':
      await removeClient(dir, need(id, 'client id'));
      io.stdout.write(`removed client ${id}\n`);
      return;
    case undefined:
    default:
      throw new SettingsError(`unknown clients action ${JSON.stringify(action ?? '')} (see trellis clients --help)`);
  }
}

/** `trellis users …` */
export async function usersCommand(argv: readonly string[], env: Env, io: AdminIo): Promise<void> {
  const { action, id, flags } = positional(argv);
  const s = loadSettings(userFlags, { argv: flags, env });
  const dir = { dataDir: s.dataDir, keyEncryptionKey: s.keyEncryptionKey, databaseUrl: s.databaseUrl };
  const { addUser, listUsers, removeUser } = await authServer();
  switch (action) {
    case 'add': {
      const username = need(id, 'username');
      // The password never goes on the command line, where other users of the machine could read it.
      const password = (await io.readStdin()).replace(/\r?\n$/, '');
      if (password === '') throw new SettingsError('no password on standard input');
      const user = await addUser(dir, {
        username,
        password,
        ...(s.name === undefined ? {} : { name: s.name }),
        ...(s.email === undefined ? {} : { email: s.email }),
      });
      io.stdout.write(json(user));
      return;
    }
    case 'list':
      io.stdout.write(json(await listUsers(dir)));
      return;
    case 'remove':
      await removeUser(dir, need(id, 'username'));
      io.stdout.write(`removed user ${id}\n`);
      return;
    case undefined:
    default:
      throw new SettingsError(`unknown users action ${JSON.stringify(action ?? '')} (see trellis users --help)`);
  }
}

/** `trellis auth-server rotate-keys` */
export async function rotateKeysCommand(argv: readonly string[], env: Env, io: AdminIo): Promise<void> {
  const s = loadSettings(
    { ...store, alg: setting.choice(['RS256', 'ES256'], { flag: 'alg', default: 'RS256', help: 'signing algorithm' }) },
    { argv, env },
  );
  const { rotateKeys } = await authServer();
  const key = await rotateKeys({
    dataDir: s.dataDir,
    keyEncryptionKey: s.keyEncryptionKey,
    databaseUrl: s.databaseUrl,
    alg: s.alg,
  });
  io.stdout.write(json(key));
}
