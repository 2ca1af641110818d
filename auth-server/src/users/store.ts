// The local users: usernames with argon2id password hashes.
import { hash, verify } from '@node-rs/argon2';
import type { Db } from '../store/db.ts';
import { AuthServerError } from '../errors.ts';

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

interface Row {
  username: string;
  password_hash: string;
  name: string | null;
  email: string | null;
  created_at: number;
}

const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
const MIN_PASSWORD = 8;

/**
 * Local users with argon2id password hashes (@node-rs/argon2's defaults: argon2id, 19 MiB, 2 passes, the OWASP
 * minimum). The username is the account id and the `sub` claim.
 */
export class UserStore {
  readonly #db: Db;
  readonly #now: () => number;
  /** Verified when the username is unknown, so a login takes as long whether or not the user exists. */
  #dummyHash: Promise<string> | undefined;

  constructor(options: { db: Db; now?: () => number }) {
    this.#db = options.db;
    this.#now = options.now ?? Date.now;
  }

  async add(input: UserInput): Promise<UserView> {
    if (typeof input.username !== 'string' || !USERNAME.test(input.username)) {
      throw new AuthServerError('invalid_user', 'username must be 1-64 letters, digits, dot, dash, underscore or @');
    }
    if (typeof input.password !== 'string' || input.password.length < MIN_PASSWORD) {
      throw new AuthServerError('invalid_user', `password must have at least ${MIN_PASSWORD} characters`);
    }
    const passwordHash = await hash(input.password);
    try {
      this.#db
        .prepare('INSERT INTO users (username, password_hash, name, email, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(input.username, passwordHash, input.name ?? null, input.email ?? null, this.#now());
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new AuthServerError('user_exists', `user ${input.username} already exists`);
      }
      throw err;
    }
    return this.show(input.username);
  }

  list(): UserView[] {
    return this.#db
      .prepare<[], Row>('SELECT * FROM users ORDER BY username')
      .all()
      .map((row) => view(row));
  }

  find(username: string): UserView | undefined {
    const row = this.#row(username);
    return row === undefined ? undefined : view(row);
  }

  show(username: string): UserView {
    const found = this.find(username);
    if (found === undefined) throw new AuthServerError('unknown_user', `no user ${username}`);
    return found;
  }

  remove(username: string): void {
    const { changes } = this.#db.prepare('DELETE FROM users WHERE username = ?').run(username);
    if (changes === 0) throw new AuthServerError('unknown_user', `no user ${username}`);
  }

  /** The account id when the password matches, otherwise undefined. */
  async authenticate(username: string, password: string): Promise<string | undefined> {
    const row = this.#row(username);
    if (row === undefined) {
      this.#dummyHash ??= hash('not a password of anyone');
      await verify(await this.#dummyHash, password);
      return undefined;
    }
    return (await verify(row.password_hash, password)) ? row.username : undefined;
  }

  #row(username: string): Row | undefined {
    return this.#db.prepare<[string], Row>('SELECT * FROM users WHERE username = ?').get(username);
  }
}

function view(row: Row): UserView {
  return {
    username: row.username,
    ...(row.name === null ? {} : { name: row.name }),
    ...(row.email === null ? {} : { email: row.email }),
    created_at: new Date(row.created_at).toISOString(),
  };
}
