// The TLS settings of a component serving HTTPS, and its material: the user's certificate or the dev CA's.
import { join } from 'node:path';
import { StartupError } from '../errors.ts';
import { setting, type SettingSpecs } from '../settings.ts';
import { ensureDevCertificates } from './dev-ca.ts';
import { TlsError } from './errors.ts';
import type { TlsLogger, TlsMaterial } from './types.ts';
import { loadUserCertificate } from './user-certificate.ts';

/**
 * The settings of a component that serves HTTPS: the user's own certificate and key, which replace the development
 * ones from the local CA. Variables carry the component's prefix (`CONFIG_SERVER_CERT_FILE`) because `trellis up` runs
 * every component from one environment.
 */
export function tlsSettings(envPrefix: string) {
  return {
    certFile: setting.string({
      flag: 'cert-file',
      env: `${envPrefix}_CERT_FILE`,
      help: 'your own PEM certificate chain, served instead of the local CA one (with --key-file)',
    }),
    keyFile: setting.string({ flag: 'key-file', env: `${envPrefix}_KEY_FILE`, help: 'PEM private key of --cert-file' }),
    caFile: setting.string({
      flag: 'ca-file',
      env: `${envPrefix}_CA_FILE`,
      help: 'CA bundle clients trust for --cert-file',
    }),
    tlsHostnames: setting.list({
      flag: 'tls-hostnames',
      env: `${envPrefix}_TLS_HOSTNAMES`,
      help: 'extra names (comma-separated) the local CA certificate covers, e.g. a container name',
    }),
  } satisfies SettingSpecs;
}

export interface ServerTlsOptions {
  readonly dataDir: string;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly caFile?: string | undefined;
  /** Names the development certificate covers besides localhost and this machine's name (ignored with certFile). */
  readonly hostnames?: readonly string[] | undefined;
  readonly logger?: TlsLogger;
}

/**
 * The certificate a component serves: the user's when `certFile` and `keyFile` are set, otherwise one issued by the
 * local development CA under `<dataDir>/tls`. Problems become a {@link StartupError} naming the file, so the
 * `trellis` command prints one line and exits 2.
 *
 * @example
 * const tls = await serverTls({ dataDir: settings.dataDir, certFile: settings.certFile, keyFile: settings.keyFile });
 * await service.listen({ port: 8888, tls });
 */
export async function serverTls(options: ServerTlsOptions): Promise<TlsMaterial> {
  const { certFile, keyFile, caFile, logger } = options;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new StartupError('--cert-file and --key-file go together: set both or neither');
  }
  try {
    if (certFile !== undefined && keyFile !== undefined) {
      return await loadUserCertificate({ certFile, keyFile, logger, ...(caFile === undefined ? {} : { caFile }) });
    }
    return await ensureDevCertificates({
      dir: join(options.dataDir, 'tls'),
      logger,
      ...(options.hostnames === undefined ? {} : { hostnames: options.hostnames }),
    });
  } catch (err) {
    throw err instanceof TlsError ? new StartupError(err.message) : err;
  }
}
