// The registry as `trellis registry` runs it: SQLite under a data directory, JSON logs at info. Arguments: <data dir>.
import { createLogger, loadSettings, runUntilSignal } from '@trellis/kit';
import { registryComponent } from '@trellis/registry';

const [dataDir] = process.argv.slice(2);
if (dataDir === undefined) throw new Error('usage: registry.ts <data dir>');

const logger = createLogger({ name: 'bench-registry', level: 'info', format: 'json' });
await runUntilSignal(
  async (started) => {
    const settings = loadSettings(registryComponent.settings, {
      env: {},
      argv: ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir],
    });
    const running = await registryComponent.start(settings, { logger, env: {} });
    started.push(running);
    const endpoint = running.endpoints[0];
    if (endpoint === undefined) throw new Error('the registry reported no endpoint');
    process.stdout.write(`ready http://127.0.0.1:${endpoint.port}\n`);
  },
  { logger },
);
