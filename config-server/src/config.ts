import { commonSettings, loadSettings, setting, SettingsError, tlsSettings, type Settings } from '@trellis/clients';
import { ClientsSyntaxError, parseClients } from './access/clients.ts';

/**
 * The config server's settings. Spring's property names work as environment variables (`ENCRYPT_KEY`,
 * `ENCRYPT_SALT`, `ENCRYPT_RSA_*`), so a Spring config server's settings carry over.
 */
export function configServerSettings() {
  return {
    ...commonSettings(),
    port: setting.port({ flag: 'port', env: 'CONFIG_SERVER_PORT', default: 8888, help: 'HTTPS (or --http) port' }),
    repo: setting.string({
      flag: 'repo',
      env: 'CONFIG_REPO',
      default: './config-repo',
      help: 'native backend: directory of {app}[-{profile}].yml|yaml|properties files, {label}/ sub-directories',
    }),
    defaultLabel: setting.string({
      flag: 'default-label',
      env: 'CONFIG_DEFAULT_LABEL',
      default: 'main',
      help: 'label served when a client names none (needs no sub-directory)',
    }),
    http: setting.boolean({
      flag: 'http',
      env: 'CONFIG_SERVER_HTTP',
      default: false,
      help: 'serve plain HTTP on loopback instead of HTTPS (development only)',
    }),
    ...tlsSettings('CONFIG_SERVER'),
    encryptKey: setting.string({
      flag: 'encrypt-key',
      env: 'ENCRYPT_KEY',
      secret: true,
      help: 'symmetric password, or an RSA private key PEM (Spring encrypt.key)',
    }),
    encryptKeyFile: setting.string({
      flag: 'encrypt-key-file',
      env: 'ENCRYPT_KEY_FILE',
      help: 'file holding the encrypt key (password or PEM); must be mode 600',
    }),
    encryptSalt: setting.string({
      flag: 'encrypt-salt',
      env: 'ENCRYPT_SALT',
      help: 'hex salt of the symmetric key (default deadbeef)',
    }),
    rsaAlgorithm: setting.choice(['DEFAULT', 'OAEP'], {
      env: 'ENCRYPT_RSA_ALGORITHM',
      help: 'RSA padding for an RSA key (Spring encrypt.rsa.algorithm; default DEFAULT)',
    }),
    rsaStrong: setting.boolean({
      env: 'ENCRYPT_RSA_STRONG',
      help: 'AES/GCM payloads for an RSA key (encrypt.rsa.strong)',
    }),
    rsaSalt: setting.string({
      env: 'ENCRYPT_RSA_SALT',
      help: 'salt for an RSA key (encrypt.rsa.salt; default deadbeef)',
    }),
    clients: setting.string({
      flag: 'clients',
      env: 'CONFIG_CLIENTS',
      secret: true,
      help: 'credentials "id:secret:app1,app2;id2:secret2:*" (Basic id:secret, Bearer or X-Config-Token secret); open when unset',
    }),
  };
}

export type ConfigServerSettings = Settings<ReturnType<typeof configServerSettings>>;

export interface ClientEntry {
  readonly id: string;
  readonly secret: string;
  readonly applications: readonly string[];
}

export interface Config extends ConfigServerSettings {
  readonly clientEntries: readonly ClientEntry[] | undefined;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Checks the settings against each other and parses the credential list. Errors name the flag and variable, never
 * a secret.
 */
export function checkConfig(settings: ConfigServerSettings): Readonly<Config> {
  if (settings.encryptKey !== undefined && settings.encryptKeyFile !== undefined) {
    throw new SettingsError(
      'set either --encrypt-key (ENCRYPT_KEY) or --encrypt-key-file (ENCRYPT_KEY_FILE), not both',
    );
  }
  if ((settings.certFile === undefined) !== (settings.keyFile === undefined)) {
    throw new SettingsError(
      '--cert-file (CONFIG_SERVER_CERT_FILE) and --key-file (CONFIG_SERVER_KEY_FILE) go together',
    );
  }
  if (settings.http && settings.certFile !== undefined) {
    throw new SettingsError('--http (CONFIG_SERVER_HTTP) turns TLS off; drop it or drop --cert-file');
  }
  // Secrets never travel in clear: plain HTTP only where nothing but this machine can listen in.
  if (settings.http && settings.host !== undefined && !LOOPBACK.has(settings.host)) {
    throw new SettingsError(`--http (CONFIG_SERVER_HTTP) is allowed on loopback only, not on --host ${settings.host}`);
  }
  let clientEntries: ClientEntry[] | undefined;
  if (settings.clients !== undefined) {
    try {
      clientEntries = parseClients(settings.clients);
    } catch (err) {
      if (err instanceof ClientsSyntaxError) throw new SettingsError(`invalid --clients: ${err.message}`);
      throw err;
    }
  }
  return Object.freeze({ ...settings, clientEntries });
}

/**
 * Reads the settings from flags and environment (the only place the config server reads `process.env`).
 *
 * @example
 * const config = loadConfig(process.env, ['--port', '0', '--http']);
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  argv: readonly string[] = [],
): Readonly<Config> {
  return checkConfig(loadSettings(configServerSettings(), { env, argv }));
}
