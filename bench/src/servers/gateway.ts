// The gateway as `trellis gateway` runs it, HTTP only, logs at warn (an edge logs refusals, not every request).
// Arguments: <data dir> <routes file> [gateway flags…].
import { createLogger, loadSettings, runUntilSignal } from '@trellis/kit';
import { gatewayComponent } from '@trellis/gateway';

const [dataDir, routesFile, ...flags] = process.argv.slice(2);
if (dataDir === undefined || routesFile === undefined) throw new Error('usage: gateway.ts <data dir> <routes file> …');

const logger = createLogger({ name: 'bench-gateway', level: 'warn', format: 'json' });
await runUntilSignal(
  async (started) => {
    const settings = loadSettings(gatewayComponent.settings, {
      env: {},
      argv: [
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--http-only',
        '--data-dir',
        dataDir,
        '--routes-file',
        routesFile,
        ...flags,
      ],
    });
    const running = await gatewayComponent.start(settings, { logger, env: {} });
    started.push(running);
    const endpoint = running.endpoints[0];
    if (endpoint === undefined) throw new Error('the gateway reported no endpoint');
    process.stdout.write(`ready http://127.0.0.1:${endpoint.port}\n`);
  },
  { logger },
);
