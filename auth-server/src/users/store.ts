// The local users: usernames with argon2id password hashes.
import { hash, verify } from '@node-rs/argon2';
import type { Awaitable, Db } from '../store/db.ts';
import { AuthServerError } from '../errors.ts';
import { firstUnstorable, unstorableReason } from '../store/text.ts';

export interface UserInput {
  readonly username: string;
  readonly password: string;
  readonly name?: string;
  readonly email?: string;
}

export interface UserView {
  readonly username: string;
  readonly name?: string;
  readonly email?: string;
  readonly created_at: string;
}

/** A user as stored, the same columns on SQLite and PostgreSQL; created_at in epoch ms. */
export interface UserRow {
  readonly username: string;
  readonly password_hash: string;
  readonly name: string | null;
  readonly email: string | null;
  readonly created_at: number;
}

/** Where user rows live (SQLite here, PostgreSQL in postgres-state.ts); the rules stay in UserStore. */
export interface UserRows {
  get(username: string): Awaitable<UserRow | undefined>;
  list(): Awaitable<UserRow[]>;
  /** False when a user of that name exists. */
  insert(row: UserRow): Awaitable<boolean>;
  remove(username: string): Awaitable<boolean>;
}

export function sqliteUserRows(db: Db): UserRows {
  const byName = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?');
  const all = db.prepare<[], UserRow>('SELECT * FROM users ORDER BY username');
  const insert = db.prepare<[string, string, string | null, string | null, number]>(
    'INSERT INTO users (username, password_hash, name, email, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const remove = db.prepare<[string]>('DELETE FROM users WHERE username = ?');
  return {
    get: (username) => byName.get(username),
    list: () => all.all(),
    insert(r) {
      try {
        insert.run(r.username, r.password_hash, r.name, r.email, r.created_at);
        return true;
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return false;
        throw err;
      }
    },
    remove: (username) => remove.run(username).changes > 0,
  };
}

const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
const MIN_PASSWORD = 8;

/**
 * Local users with argon2id password hashes (@node-rs/argon2's defaults: argon2id, 19 MiB, 2 passes, the OWASP
 * minimum). The username is the account id and the `sub` claim.
 */
export class UserStore {
  readonly #rows: UserRows;
  readonly #now: () => number;
  /** Verified when the username is unknown, so a login takes as long whether or not the user exists. */
  #dummyHash: Promise<string> | undefined;

  constructor(options: { rows: UserRows; now?: () => number }) {
    this.#rows = options.rows;
    this.#now = options.now ?? Date.now;
  }

  async add(input: UserInput): Promise<UserView> {
    // Refused before anything else, as the clients' API does: a lone surrogate would be hashed as U+FFFD (so a typed
    // U+FFFD would sign in), and no store keeps a NUL.
    const unstorable = firstUnstorable(input);
    if (unstorable !== undefined) throw new AuthServerError('invalid_user', `a value ${unstorable}`);
    if (typeof input.username !== 'string' || !USERNAME.test(input.username)) {
      throw new AuthServerError('invalid_user', 'username must be 1-64 letters, digits, dot, dash, underscore or @');
    }
    // Characters (code points), not UTF-16 units: four emoji are four characters, not eight.
    if (typeof input.password !== 'string' || [...input.password].length < MIN_PASSWORD) {
      throw new AuthServerError('invalid_user', `password must have at least ${MIN_PASSWORD} characters`);
    }
    for (const field of ['name', 'email'] as const) {
      const value = input[field];
      if (value === undefined) continue;
      const reason = typeof value === 'string' ? unstorableReason(value) : 'is not a text';
      if (reason !== undefined) throw new AuthServerError('invalid_user', `${field} ${reason}`);
    }
    const passwordHash = await hash(input.password);
    const inserted = await this.#rows.insert({
      username: input.username,
      password_hash: passwordHash,
      name: input.name ?? null,
      email: input.email ?? null,
      created_at: this.#now(),
    });
    if (!inserted) throw new AuthServerError('user_exists', `user ${input.username} already exists`);
    return this.show(input.username);
  }

  async list(): Promise<UserView[]> {
    return (await this.#rows.list()).map((row) => view(row));
  }

  async find(username: string): Promise<UserView | undefined> {
    const row = await this.#rows.get(username);
    return row === undefined ? undefined : view(row);
  }

  async show(username: string): Promise<UserView> {
    const found = await this.find(username);
    if (found === undefined) throw new AuthServerError('unknown_user', `no user ${username}`);
    return found;
  }

  async remove(username: string): Promise<void> {
    if (!(await this.#rows.remove(username))) throw new AuthServerError('unknown_user', `no user ${username}`);
  }

  /** The account id when the password matches, otherwise undefined. */
  async authenticate(username: string, password: string): Promise<string | undefined> {
    const row = await this.#rows.get(username);
    if (row === undefined) {
      this.#dummyHash ??= hash('not a password of anyone');
      await verify(await this.#dummyHash, password);
      return undefined;
    }
    return (await verify(row.password_hash, password)) ? row.username : undefined;
  }
}

function view(row: UserRow): UserView {
  return {
    username: row.username,
    ...(row.name === null ? {} : { name: row.name }),
    ...(row.email === null ? {} : { email: row.email }),
    created_at: new Date(row.created_at).toISOString(),
  };
}
