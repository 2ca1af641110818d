// The settings every example service declares: its port, and where the config server, the CA and the registry are.
// The rest of a service's configuration comes from the config server (config-repo/{name}.yml), as in Spring.
import { commonSettings, setting, type Settings } from '@trellis/kit';

/**
 * Settings of an example service listening on `port` by default (`portEnv` moves it; 0 picks a free port).
 *
 * @example
 * const settings = exampleSettings({ name: 'product', port: 7001, portEnv: 'PRODUCT_PORT' });
 */
export function exampleSettings(o: { name: string; port: number; portEnv: string }) {
  return {
    ...commonSettings(),
    port: setting.port({ flag: 'port', env: o.portEnv, default: o.port, help: `HTTP port of ${o.name}` }),
    configUri: setting.url({
      flag: 'config-uri',
      env: 'SPRING_CLOUD_CONFIG_URI',
      default: 'https://localhost:8888',
      // `trellis up` puts the config credential in it as user info.
      secret: true,
      help: 'config server URL (Spring spring.cloud.config.uri); user info is sent as Basic credentials',
    }),
    profiles: setting.list({
      flag: 'profiles',
      env: 'SPRING_PROFILES_ACTIVE',
      default: ['default'],
      help: 'configuration profiles to fetch, later ones winning (docker in docker-compose.yml)',
    }),
    caFile: setting.string({
      flag: 'ca-file',
      env: 'TRELLIS_CA_FILE',
      help: "CA that signed the config server's certificate (default <data-dir>/tls/ca.pem, the local CA)",
    }),
    registryUrl: setting.string({
      flag: 'registry-url',
      env: 'EUREKA_CLIENT_SERVICEURL_DEFAULTZONE',
      help: 'registry URL; default eureka.client.serviceUrl.defaultZone from the configuration',
    }),
    brokerUrl: setting.string({
      flag: 'broker-url',
      env: 'TRELLIS_BROKER_URL',
      secret: true,
      help: 'RabbitMQ URL (amqp://user:password@host:5672) for events; the embedded SQLite binder when unset',
    }),
    instanceHostname: setting.string({
      env: 'EUREKA_INSTANCE_HOSTNAME',
      help: 'host name registered for this instance (default localhost, or the IP address with prefer-ip-address)',
    }),
    preferIpAddress: setting.boolean({
      env: 'EUREKA_INSTANCE_PREFER_IP_ADDRESS',
      default: false,
      help: 'register the IP address instead of a host name (containers scaled under one name)',
    }),
  };
}

export type ExampleSettings = Settings<ReturnType<typeof exampleSettings>>;

/** Settings of a core service, which also consumes its event destination. */
export function coreServiceSettings(o: { name: string; port: number; portEnv: string }) {
  return {
    ...exampleSettings(o),
    instanceIndex: setting.integer({
      env: 'SPRING_CLOUD_STREAM_INSTANCEINDEX',
      default: 0,
      min: 0,
      help: 'which partition of the event destination this instance reads (Spring instanceIndex)',
    }),
    instanceCount: setting.integer({
      env: 'SPRING_CLOUD_STREAM_INSTANCECOUNT',
      default: 1,
      min: 1,
      help: 'how many instances share the event destination (Spring instanceCount)',
    }),
  };
}

export type CoreServiceSettings = Settings<ReturnType<typeof coreServiceSettings>>;
