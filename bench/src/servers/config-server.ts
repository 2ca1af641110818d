// The config server as deployed by default: HTTPS with the local CA, a native repository, a symmetric encrypt key.
// Writes the repository the issue's figure names (4 files, 200 properties, 20 of them `{cipher}` values) into the
// directory it is given, so the scenario can edit it for the watch figure. Arguments: <repo dir> <data dir> [--http].
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, loadSettings, runUntilSignal } from '@trellis/kit';
import { configServerComponent, createSymmetricEncryptor } from '@trellis/config-server';

const [repo, dataDir, mode] = process.argv.slice(2);
if (repo === undefined || dataDir === undefined)
  throw new Error('usage: config-server.ts <repo dir> <data dir> [--http]');
const KEY = 'bench-symmetric-key';
const encryptor = createSymmetricEncryptor({ key: KEY });

// 50 properties per file; the 20 `{cipher}` values sit in the three files `GET /product/docker` reads.
const files = ['application.yml', 'product.yml', 'product-docker.yml', 'review.yml'];
let ciphers = 0;
await mkdir(repo, { recursive: true });
for (const [f, file] of files.entries()) {
  const lines: string[] = [`bench.tick: 0`];
  for (let i = 1; i < 50; i++) {
    const key = `section${i % 5}.${file.replace(/\W/g, '_')}.key${i}`;
    if (f < 3 && i % 7 === 0 && ciphers < 20) {
      ciphers++;
      lines.push(`${key}: '{cipher}${encryptor.encrypt(`secret-${f}-${i}`)}'`);
    } else lines.push(`${key}: value-${f}-${i}`);
  }
  await writeFile(join(repo, file), `${lines.join('\n')}\n`);
}
if (ciphers !== 20) throw new Error(`expected 20 cipher values, wrote ${ciphers}`);

const logger = createLogger({ name: 'bench-config-server', level: 'info', format: 'json' });
await runUntilSignal(
  async (started) => {
    const settings = loadSettings(configServerComponent.settings, {
      env: { ENCRYPT_KEY: KEY },
      argv: [
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--repo',
        repo,
        '--data-dir',
        dataDir,
        ...(mode === '--http' ? ['--http'] : []),
      ],
    });
    const running = await configServerComponent.start(settings, { logger, env: {} });
    started.push(running);
    const endpoint = running.endpoints[0];
    if (endpoint === undefined) throw new Error('the config server reported no endpoint');
    process.stdout.write(`ready ${endpoint.protocol}://127.0.0.1:${endpoint.port}\n`);
  },
  { logger },
);
