// The local development CA of a data directory: made once, its server certificate re-issued when stale.
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { checkDevCa, checkServerCertificate, createDevCa, issueServerCertificate } from './certificates.ts';
import type { PemPair, Verdict } from './certificates.ts';
import {
  CERT_MODE,
  KEY_MODE,
  ensureDir,
  readIfPresent,
  tightenKeyPermissions,
  withDirLock,
  writeFileAtomic,
} from './files.ts';
import { resolveNames } from './names.ts';
import type { SubjectNames } from './names.ts';
import type { DevTlsMaterial, TlsLogger } from './types.ts';

export interface DevCertificateOptions {
  /** Where the CA and server files live, e.g. `./data/tls`; created owner-only when missing. */
  readonly dir: string;
  /** Extra names to cover besides localhost, 127.0.0.1, ::1 and the machine's host name; IP literals become IP SANs. */
  readonly hostnames?: readonly string[];
  /** The clock for validity and renewal decisions; tests move it forward to simulate expiry. */
  readonly now?: Date;
  /** Hears about tightened permissions and (at info, if it has it) newly issued certificates. */
  readonly logger?: TlsLogger;
}

/** File names inside `dir`; fixed so users and docs can point at `ca.pem`. */
export const DEV_FILES = {
  caFile: 'ca.pem',
  caKeyFile: 'ca-key.pem',
  certFile: 'server.pem',
  keyFile: 'server-key.pem',
} as const;

interface Paths {
  readonly caFile: string;
  readonly caKeyFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

interface Stored {
  readonly ca: PemPair | undefined;
  readonly caVerdict: Verdict;
  readonly server: PemPair | undefined;
  readonly serverVerdict: Verdict;
}

interface Settings {
  readonly dir: string;
  readonly paths: Paths;
  readonly names: SubjectNames;
  readonly now: Date;
  readonly logger: TlsLogger | undefined;
}

function settingsOf(options: DevCertificateOptions): Settings {
  if (typeof options.dir !== 'string' || options.dir.trim() === '') {
    throw new TypeError('ensureDevCertificates: dir must be a non-empty path');
  }
  const dir = resolve(options.dir);
  const now = options.now === undefined ? new Date() : new Date(options.now.getTime());
  if (Number.isNaN(now.getTime())) throw new TypeError('ensureDevCertificates: now must be a valid Date');
  return {
    dir,
    paths: {
      caFile: join(dir, DEV_FILES.caFile),
      caKeyFile: join(dir, DEV_FILES.caKeyFile),
      certFile: join(dir, DEV_FILES.certFile),
      keyFile: join(dir, DEV_FILES.keyFile),
    },
    names: resolveNames({ requested: [...(options.hostnames ?? [])], machine: hostname() }),
    now,
    logger: options.logger,
  };
}

/**
 * Returns a development CA and a server certificate for this machine, creating them on first use and re-issuing the
 * server certificate (never the CA, which users may have trusted) when it no longer fits.
 *
 * @example
 * const tls = await ensureDevCertificates({ dir: './data/tls' });
 * https.createServer({ cert: tls.cert, key: tls.key }, handler);
 * // clients: https.get(url, { ca: tls.ca }) or `curl --cacert data/tls/ca.pem`
 */
export async function ensureDevCertificates(options: DevCertificateOptions): Promise<DevTlsMaterial> {
  const settings = settingsOf(options);
  await ensureDir(settings.dir);
  // Lock-free first look: the common case is a restart with valid files, and a read-only directory must still work.
  const first = await readStored(settings);
  if (first.ca !== undefined && first.server !== undefined && first.serverVerdict.ok) {
    return material(settings.paths, first.ca, first.server, false);
  }
  return withDirLock(settings.dir, async () => {
    // Another process may have finished issuing while we waited for the lock.
    const stored = await readStored(settings);
    if (stored.ca !== undefined && stored.server !== undefined && stored.serverVerdict.ok) {
      return material(settings.paths, stored.ca, stored.server, false);
    }
    const ca = stored.ca ?? (await createCa(settings, stored.caVerdict));
    const server = issueServerCertificate({ ca, names: settings.names, now: settings.now });
    // Key before certificate: a crash in between leaves a mismatched pair, which the next run detects and re-issues.
    await writeFileAtomic(settings.paths.keyFile, server.keyPem, KEY_MODE);
    await writeFileAtomic(settings.paths.certFile, server.certPem, CERT_MODE);
    settings.logger?.info?.(
      {
        certFile: settings.paths.certFile,
        reason: stored.serverVerdict.ok ? undefined : stored.serverVerdict.reason,
        dns: settings.names.dns,
        ips: settings.names.ips,
      },
      'issued development server certificate',
    );
    return material(settings.paths, ca, server, true);
  });
}

async function createCa(settings: Settings, previous: Verdict): Promise<PemPair> {
  const ca = createDevCa(settings.now);
  await writeFileAtomic(settings.paths.caKeyFile, ca.keyPem, KEY_MODE);
  await writeFileAtomic(settings.paths.caFile, ca.certPem, CERT_MODE);
  if (previous.ok) {
    settings.logger?.info?.({ caFile: settings.paths.caFile }, 'created development CA; trust it to avoid warnings');
  } else {
    // Users who trusted the old CA will now see certificate errors; tell them why and what to trust instead.
    settings.logger?.warn(
      { caFile: settings.paths.caFile, reason: previous.reason },
      'replaced development CA; trust the new one',
    );
  }
  return ca;
}

interface Pair {
  readonly pair: PemPair | undefined;
  readonly verdict: Verdict;
}

/** Reads a certificate and its key; one without the other is a broken pair (an interrupted write or a stray delete). */
async function readPair(certFile: string, keyFile: string, logger: TlsLogger | undefined): Promise<Pair> {
  await tightenKeyPermissions(keyFile, logger);
  const [certPem, keyPem] = await Promise.all([readIfPresent(certFile), readIfPresent(keyFile)]);
  if (certPem !== undefined && keyPem !== undefined) return { pair: { certPem, keyPem }, verdict: { ok: true } };
  if (certPem === undefined && keyPem === undefined) return { pair: undefined, verdict: { ok: true } };
  const missing = certPem === undefined ? certFile : keyFile;
  return { pair: undefined, verdict: { ok: false, reason: `${missing} is missing` } };
}

async function readStored(settings: Settings): Promise<Stored> {
  const { paths, logger, now, names } = settings;
  const caRead = await readPair(paths.caFile, paths.caKeyFile, logger);
  // Nothing there is the first run (ok: nothing is replaced); anything broken earns a warning when it is replaced.
  const caVerdict: Verdict = caRead.pair === undefined ? caRead.verdict : checkDevCa(caRead.pair, now);
  const ca = caRead.pair !== undefined && caVerdict.ok ? caRead.pair : undefined;
  const serverRead = await readPair(paths.certFile, paths.keyFile, logger);
  const server = serverRead.pair;
  let serverVerdict: Verdict;
  if (ca === undefined) serverVerdict = { ok: false, reason: 'the CA is new' };
  else if (server === undefined) {
    serverVerdict = serverRead.verdict.ok
      ? { ok: false, reason: 'there is no server certificate yet' }
      : serverRead.verdict;
  } else serverVerdict = checkServerCertificate({ server, caCertPem: ca.certPem, names, now });
  return { ca, caVerdict, server, serverVerdict };
}

function material(paths: Paths, ca: PemPair, server: PemPair, created: boolean): DevTlsMaterial {
  return {
    caFile: paths.caFile,
    certFile: paths.certFile,
    keyFile: paths.keyFile,
    ca: ca.certPem,
    cert: server.certPem,
    key: server.keyPem,
    created,
  };
}
