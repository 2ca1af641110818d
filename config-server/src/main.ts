import {
  createService,
  defineComponent,
  serverTls,
  type Logger,
  type Running,
  type TlsMaterial,
} from '@trellis/clients';
import { createAccessControl } from './access/clients.ts';
import { createApp, renderError } from './app.ts';
import { createNativeBackend } from './backends/native.ts';
import { checkConfig, configServerSettings, type Config } from './config.ts';
import { loadKeyChain } from './encryption/keys.ts';

async function tlsFor(config: Config, logger: Logger): Promise<TlsMaterial | undefined> {
  if (config.http) return undefined;
  return serverTls({
    dataDir: config.dataDir,
    certFile: config.certFile,
    keyFile: config.keyFile,
    caFile: config.caFile,
    logger,
  });
}

async function start(config: Config, logger: Logger): Promise<Running> {
  const keys = await loadKeyChain(config);
  const tls = await tlsFor(config, logger);
  const backend = createNativeBackend({ root: config.repo, defaultLabel: config.defaultLabel, logger });
  const service = createService({ name: 'config-server', logger, renderError });
  createApp({
    logger,
    backend,
    service,
    ...(keys === undefined ? {} : { keys }),
    ...(config.clientEntries === undefined ? {} : { access: createAccessControl(config.clientEntries) }),
  });
  service.onShutdown('config backend', () => backend.close());
  await service.listen({
    port: config.port,
    // --http without --host stays on loopback: plain HTTP must not be reachable from other machines.
    ...(config.host === undefined ? (config.http ? { host: '127.0.0.1' } : {}) : { host: config.host }),
    ...(tls === undefined ? {} : { tls: { key: tls.key, cert: tls.cert } }),
    setting: '--port (CONFIG_SERVER_PORT)',
  });
  const notes = [
    `config-server: ${backend.kind} repository ${config.repo}, ${keys === undefined ? 'no encrypt key' : `${keys.locate().kind} encrypt key`}, ${
      config.clientEntries === undefined
        ? 'open to every client (set CONFIG_CLIENTS to require credentials)'
        : `${config.clientEntries.length} client credential(s)`
    }`,
  ];
  if (tls?.caFile !== undefined) notes.push(`config-server: clients trust ${tls.caFile}`);
  return { name: 'config-server', endpoints: service.endpoints, notes, stop: () => service.stop() };
}

/**
 * The config server as a landscape component (`trellis config-server`, or part of `trellis up`).
 *
 * @example
 * const running = await configServerComponent.start(loadSettings(configServerComponent.settings, { env }), { logger, env });
 */
export const configServerComponent = defineComponent({
  name: 'config-server',
  summary: 'Spring-Cloud-Config-compatible configuration server over HTTPS (port 8888)',
  settings: configServerSettings(),
  start: (settings, context) => start(checkConfig(settings), context.logger),
});
