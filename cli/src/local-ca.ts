// The local development CA that every `trellis` run makes sure of before it starts a component.
import { join } from 'node:path';
import { StartupError, type Logger } from '@trellis/kit';
import { ensureDevCertificates, TlsError } from '@trellis/kit/tls';

/**
 * Creates the local CA and the server certificate under `<dataDir>/tls` unless they exist, before any component
 * needs HTTPS, and answers the CA file, the one file the summary tells the user to trust.
 */
export async function ensureLocalCa(dataDir: string, logger: Logger): Promise<string> {
  const tls = await ensureDevCertificates({ dir: join(dataDir, 'tls'), logger }).catch((err: unknown) => {
    throw err instanceof TlsError ? new StartupError(err.message) : err;
  });
  if (tls.created) logger.info({ caFile: tls.caFile }, 'created the local development CA');
  return tls.caFile;
}
