// A gateway started as the README starts it: the `trellis gateway` command in a process of its own (the kit's
// startTrellis), on a free port, with a data directory and routes file of its own.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@trellis/kit';
import { startTrellis, type TrellisProcess } from '../../kit/test/support/trellis-process.ts';

/** The management credential the process is started with (`--admin-auth`). */
export const PROCESS_ADMIN = { user: 'admin', password: 'fuzz-admin-secret-0123' };
export const PROCESS_ADMIN_AUTHORIZATION = `Basic ${Buffer.from(`${PROCESS_ADMIN.user}:${PROCESS_ADMIN.password}`).toString('base64')}`;

export interface GatewayProcess extends TrellisProcess {
  readonly port: number;
  readonly dataDir: string;
  readonly routesFile: string;
  /** SIGKILLs the process if it still runs and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Spawns `trellis gateway --port <free> --http-only --data-dir <temp> --routes-file <temp> --admin-auth …` plus
 * `argv`, with `env` added, and resolves once it listens. Every log line is kept: tests count them over the run.
 */
export async function spawnGateway(
  routesYaml: string,
  argv: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<GatewayProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gateway-process-'));
  const routesFile = join(dataDir, 'routes.yml');
  await writeFile(routesFile, routesYaml);
  const port = await freePort();
  let gateway: TrellisProcess;
  try {
    gateway = await startTrellis(
      [
        'gateway',
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--http-only',
        '--data-dir',
        dataDir,
        '--routes-file',
        routesFile,
        '--admin-auth',
        `basic:${PROCESS_ADMIN.user}:${PROCESS_ADMIN.password}`,
        ...argv,
      ],
      { env, timeoutMs: 30_000, keepLines: Infinity },
    );
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...gateway,
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    routesFile,
    stop: async () => {
      await gateway.kill();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
