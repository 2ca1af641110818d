// The part of eureka-js-client (4.x, no bundled types) the interop tests use.
declare module 'eureka-js-client' {
  import type { EventEmitter } from 'node:events';

  export interface EurekaInstanceConfig {
    app: string;
    hostName: string;
    ipAddr: string;
    port: { $: number; '@enabled': boolean };
    vipAddress: string;
    dataCenterInfo: { '@class': string; name: string };
    instanceId?: string;
    statusPageUrl?: string;
    metadata?: Record<string, string>;
  }

  export interface EurekaClientConfig {
    instance: EurekaInstanceConfig;
    eureka: {
      host: string;
      port: number;
      servicePath?: string;
      heartbeatInterval?: number;
      registryFetchInterval?: number;
      maxRetries?: number;
      requestRetryDelay?: number;
      fetchRegistry?: boolean;
      registerWithEureka?: boolean;
    };
    shouldUseDelta?: boolean;
    cwd?: string;
    logger?: {
      debug(...a: unknown[]): void;
      info(...a: unknown[]): void;
      warn(...a: unknown[]): void;
      error(...a: unknown[]): void;
    };
  }

  export interface EurekaInstance {
    instanceId?: string;
    hostName: string;
    app: string;
    status: string;
    port: { $: number; '@enabled': string };
    vipAddress: string;
    actionType?: string;
  }

  export class Eureka extends EventEmitter {
    constructor(config: EurekaClientConfig);
    start(callback?: (err?: Error | null) => void): void;
    stop(callback?: (err?: Error | null) => void): void;
    getInstancesByAppId(appId: string): EurekaInstance[];
    getInstancesByVipAddress(vipAddress: string): EurekaInstance[];
    fetchRegistry(callback?: (err?: Error | null) => void): void;
    readonly hasFullRegistry: boolean;
  }

  export default Eureka;
}
