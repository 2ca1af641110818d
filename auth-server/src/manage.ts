// The functions behind `trellis clients`, `trellis users` and `trellis auth-server rotate-keys`, on the data dir's
// SQLite file or the PostgreSQL database of --database-url. They work while servers run (SQLite WAL; PostgreSQL):
// servers read clients and users on every request, and pick up rotated keys within KEY_RECHECK_MS (at once on
// PostgreSQL, told by NOTIFY; at once on the one server of POST /admin/keys/rotate).
import type { ClientInput, ClientView, CreatedClient } from './oauth-clients/store.ts';
import type { SigningAlg, SigningKeyInfo } from './crypto/signing-keys.ts';
import { withAuthStore, type DataDirOptions } from './data-dir.ts';
import type { UserInput, UserView } from './users/store.ts';

/**
 * Registers a client and answers its secret, the only time it is shown.
 *
 * @example
 * const { client_secret } = await addClient({ dataDir: './data' }, { client_id: 'review', scope: 'product:read' });
 */
export function addClient(options: DataDirOptions, input: ClientInput): Promise<CreatedClient> {
  return withAuthStore(options, (s) => s.clients.create(input));
}

export function listClients(options: DataDirOptions): Promise<ClientView[]> {
  return withAuthStore(options, (s) => s.clients.list());
}

export function showClient(options: DataDirOptions, clientId: string): Promise<ClientView> {
  return withAuthStore(options, (s) => s.clients.show(clientId));
}

/** Replaces a client's secret and answers the new one; the old one stops working at once. */
export function rotateSecret(options: DataDirOptions, clientId: string): Promise<string> {
  return withAuthStore(options, (s) => s.clients.rotateSecret(clientId));
}

export function removeClient(options: DataDirOptions, clientId: string): Promise<void> {
  return withAuthStore(options, (s) => s.clients.remove(clientId));
}

/**
 * Adds a local user; the password is stored as an argon2id hash.
 *
 * @example
 * await addUser({ dataDir: './data' }, { username: 'alice', password: 'correct horse battery' });
 */
export function addUser(options: DataDirOptions, input: UserInput): Promise<UserView> {
  return withAuthStore(options, (s) => s.users.add(input));
}

export function listUsers(options: DataDirOptions): Promise<UserView[]> {
  return withAuthStore(options, (s) => s.users.list());
}

export function removeUser(options: DataDirOptions, username: string): Promise<void> {
  return withAuthStore(options, (s) => s.users.remove(username));
}

/** Adds a new current signing key; older keys stay in the JWKS until their tokens have expired. */
export function rotateKeys(options: DataDirOptions & { alg?: SigningAlg }): Promise<SigningKeyInfo> {
  return withAuthStore(options, (s) => s.keys.rotate(options.alg ?? 'RS256'));
}

export function listKeys(options: DataDirOptions): Promise<SigningKeyInfo[]> {
  return withAuthStore(options, (s) => s.keys.list());
}
