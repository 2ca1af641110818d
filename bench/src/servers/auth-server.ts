// The auth server as `trellis auth-server` runs it: SQLite under a data directory, RS256 keys, JSON logs at info, no
// development clients. Arguments: <data dir>. The scenario hands the credential it registers clients with in
// AUTH_REGISTRATION_TOKEN (environment, never the command line), and may pick AUTH_SIGNING_ALG.
import { createLogger, loadSettings, runUntilSignal } from '@trellis/kit';
import { authServerComponent } from '@trellis/auth-server';

const [dataDir] = process.argv.slice(2);
if (dataDir === undefined) throw new Error('usage: auth-server.ts <data dir>');

const env = {
  AUTH_REGISTRATION_TOKEN: process.env.AUTH_REGISTRATION_TOKEN,
  AUTH_SIGNING_ALG: process.env.AUTH_SIGNING_ALG,
  // PostgreSQL instead of SQLite (scenarios/auth-postgres.ts): instances of one issuer share the database and key.
  TRELLIS_DATABASE_URL: process.env.TRELLIS_DATABASE_URL,
  AUTH_KEY_ENCRYPTION_KEY: process.env.AUTH_KEY_ENCRYPTION_KEY,
  AUTH_ISSUER: process.env.AUTH_ISSUER,
  AUTH_SEED_DEV_CLIENTS: 'false',
};
const logger = createLogger({ name: 'bench-auth-server', level: 'info', format: 'json' });
await runUntilSignal(
  async (started) => {
    const settings = loadSettings(authServerComponent.settings, {
      env,
      argv: ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir],
    });
    const running = await authServerComponent.start(settings, { logger, env });
    started.push(running);
    const endpoint = running.endpoints[0];
    if (endpoint === undefined) throw new Error('the auth server reported no endpoint');
    process.stdout.write(`ready http://127.0.0.1:${endpoint.port}\n`);
  },
  { logger },
);
