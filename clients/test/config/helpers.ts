import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startConfigServer as startConfigServerComponent } from '../../../config-server/test/helpers.ts';
import { createLogger, type Logger, type Running } from '@trellis/kit';

/** A temporary directory: `files` maps relative paths to contents. */
export function tempDir(files: Record<string, string> = {}): {
  root: string;
  write(rel: string, text: string): void;
  remove(): void;
} {
  const root = mkdtempSync(join(tmpdir(), 'config-client-'));
  const write = (rel: string, text: string): void => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  for (const [rel, text] of Object.entries(files)) write(rel, text);
  return { root, write, remove: () => rmSync(root, { recursive: true, force: true }) };
}

export const silentLogger = (): Logger => createLogger({ name: 'test', level: 'silent' });

/** Starts the real config server (HTTPS with the local CA under `<dataDir>/tls`). */
export async function startConfigServer(options: {
  repo: string;
  dataDir: string;
  port?: number;
  env?: Record<string, string>;
}): Promise<{ running: Running; url: string; caFile: string }> {
  const { running, url } = await startConfigServerComponent({ ...options, https: true, argv: ['--host', '127.0.0.1'] });
  return { running, url, caFile: join(options.dataDir, 'tls', 'ca.pem') };
}
