// Files of a TLS directory: atomic writes, private key permissions, and a lock between processes.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { TlsError } from './errors.ts';
import type { TlsLogger } from './types.ts';

/** Private keys: owner read/write only. */
export const KEY_MODE = 0o600;
/** Certificates are public, but other users have no business reading a dev directory either. */
export const CERT_MODE = 0o644;
export const DIR_MODE = 0o700;

/** POSIX permission bits mean nothing on Windows (ACLs decide there), so mode checks are skipped. */
const POSIX_MODES = process.platform !== 'win32';

const TEMP_SUFFIX = '.tmp';

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** Reads a UTF-8 file; undefined when it does not exist, a typed error naming it when it exists but cannot be read. */
export async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw new TlsError('unreadable_file', `cannot read ${file} (${errorCode(err) ?? 'unknown error'})`, {
      file,
      cause: err,
    });
  }
}

/** Reads a file that must exist (user-supplied material). */
export async function readRequired(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const reason = errorCode(err) === 'ENOENT' ? 'it does not exist' : `${errorCode(err) ?? 'unknown error'}`;
    throw new TlsError('unreadable_file', `cannot read the ${what} file ${file}: ${reason}`, { file, cause: err });
  }
}

/** Creates the directory owner-only; an existing directory is left as the user set it up. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
  } catch (err) {
    throw new TlsError(
      'unwritable_file',
      `cannot create the certificate directory ${dir} (${errorCode(err) ?? 'unknown error'})`,
      {
        file: dir,
        cause: err,
      },
    );
  }
}

/**
 * Replaces `file` with `data` so that readers see either the old or the new content, never a prefix: a crash between
 * write and rename leaves only a temp file, which the next locked run removes.
 */
export async function writeFileAtomic(file: string, data: string, mode: number): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
  try {
    // 'wx' so a leftover or planted file (or symlink) at the temp name is never written through.
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(data, 'utf8');
      // Flush before rename, or a power cut could leave the rename durable but the content not.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new TlsError('unwritable_file', `cannot write ${file} (${errorCode(err) ?? 'unknown error'})`, {
      file,
      cause: err,
    });
  }
  await syncDir(dirname(file));
}

/** Makes the rename itself durable. Best effort: some platforms (Windows) cannot open a directory for fsync. */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability of the directory entry is a bonus; the content itself was already synced.
  }
}

/**
 * A private key readable by group or others is tightened to 0600 rather than refused: the file is ours, and a dev
 * server that refuses to start over a umask is more annoying than helpful. The logger hears about it so the user
 * learns that something else loosened it.
 */
export async function tightenKeyPermissions(file: string, logger: TlsLogger | undefined): Promise<void> {
  if (!POSIX_MODES) return;
  let mode: number;
  try {
    mode = (await stat(file)).mode & 0o777;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw new TlsError('unreadable_file', `cannot inspect ${file} (${errorCode(err) ?? 'unknown error'})`, {
      file,
      cause: err,
    });
  }
  if ((mode & ~KEY_MODE) === 0) return;
  try {
    await chmod(file, KEY_MODE);
  } catch (err) {
    throw new TlsError(
      'unwritable_file',
      `${file} is readable by others (mode ${mode.toString(8)}) and cannot be restricted to 600 (${errorCode(err) ?? 'unknown error'})`,
      { file, cause: err },
    );
  }
  logger?.warn({ file, previousMode: mode.toString(8), mode: KEY_MODE.toString(8) }, 'tightened permissions');
}

/** True when a POSIX file mode gives anyone but the owner access (used for user keys, which are not ours to chmod). */
export async function isGroupOrWorldAccessible(file: string): Promise<boolean> {
  if (!POSIX_MODES) return false;
  const mode = (await stat(file)).mode;
  return (mode & 0o077) !== 0;
}

export interface DirLockOptions {
  /** A lock older than this was left by a crashed process and is taken over. */
  readonly staleMs?: number;
  /** Give up waiting after this long, naming the lock file so the user can remove it. */
  readonly timeoutMs?: number;
}

/**
 * Runs `fn` while holding `<dir>/.lock`. Several services of one landscape start together and share one CA directory;
 * without the lock each would mint its own CA and the files on disk would end up mixed from different processes.
 */
export async function withDirLock<T>(dir: string, fn: () => Promise<T>, options: DirLockOptions = {}): Promise<T> {
  const lockFile = join(dir, '.lock');
  const staleMs = options.staleMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const started = Date.now();
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx', KEY_MODE);
      try {
        await handle.writeFile(`${process.pid}\n`, 'utf8');
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') {
        throw new TlsError('unwritable_file', `cannot create ${lockFile} (${errorCode(err) ?? 'unknown error'})`, {
          file: lockFile,
          cause: err,
        });
      }
    }
    const age = await lockAge(lockFile);
    if (age !== undefined && age > staleMs) {
      await rm(lockFile, { force: true });
      continue;
    }
    if (Date.now() - started > timeoutMs) {
      throw new TlsError(
        'unwritable_file',
        `${lockFile} has been held for over ${Math.round(timeoutMs / 1000)}s; delete it if no Trellis process is starting`,
        { file: lockFile },
      );
    }
    await delay(25 + Math.floor(Math.random() * 50));
  }
  try {
    await removeTempFiles(dir);
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}

async function lockAge(lockFile: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(lockFile)).mtimeMs;
  } catch {
    // Gone between our open and stat: the holder finished, so just retry.
    return undefined;
  }
}

/** Temp files of writes interrupted by a crash; only removed under the lock, when no write can be in flight. */
async function removeTempFiles(dir: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((name) => name.endsWith(TEMP_SUFFIX) && /\.pem\.\d+\.[0-9a-f]{12}\.tmp$/.test(name))
      .map((name) => rm(join(dir, basename(name)), { force: true })),
  );
}
