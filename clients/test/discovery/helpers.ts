import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/http/timing.ts';
import type { ServiceInstance } from '../../src/discovery/wire.ts';

/** A clock whose time moves only when the test says so; timers fire in order of due time. */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Delays of the timers now pending, from the current time. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Waits (in real time) until a timer is pending, then moves time forward by its delay, firing it. */
  async fireNext(timeoutMs = 3000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.#timers.size === 0) {
      if (Date.now() > deadline) throw new Error('no timer was scheduled');
      await new Promise((r) => setTimeout(r, 2));
    }
    const delay = this.pending()[0] ?? 0;
    this.advance(delay);
    return delay;
  }

  /** Moves time forward, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers)
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].callback();
    }
    this.#now = target;
  }
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface ScriptedServer {
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Resolves when at least `count` requests have arrived (matching `filter` when given). */
  waitFor(count: number, filter?: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export type Script = (req: RecordedRequest, res: http.ServerResponse) => void;

/** A node:http server answering with a script and recording what it was sent. */
export async function startScriptedServer(script: Script, port = 0): Promise<ScriptedServer> {
  const requests: RecordedRequest[] = [];
  let notify: (() => void) | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      notify?.();
      script(recorded, res);
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    requests,
    async waitFor(count, filter = () => true, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const matching = requests.filter(filter);
        if (matching.length >= count) return matching;
        if (Date.now() > deadline) {
          throw new Error(
            `expected ${count} requests, got ${matching.length}: ${requests.map((r) => `${r.method} ${r.url}`).join(', ')}`,
          );
        }
        await new Promise<void>((resolve) => {
          notify = resolve;
          setTimeout(resolve, 20);
        });
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Waits until `check` holds, polling every 5 ms. */
export async function eventually(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An instance as the wire reader would produce it, for pure unit tests. */
export function instance(app: string, id: string, overrides: Partial<ServiceInstance> = {}): ServiceInstance {
  return {
    instanceId: id,
    app: app.toUpperCase(),
    hostName: 'localhost',
    ipAddr: '127.0.0.1',
    status: 'UP',
    overriddenStatus: 'UNKNOWN',
    port: { port: 8080, enabled: true },
    securePort: { port: 443, enabled: false },
    metadata: {},
    vipAddress: app.toLowerCase(),
    homePageUrl: undefined,
    statusPageUrl: undefined,
    healthCheckUrl: undefined,
    leaseInfo: undefined,
    lastDirtyTimestamp: 1,
    actionType: undefined,
    ...overrides,
  };
}

/** GET /eureka/apps as recorded from a Spring Cloud Netflix Eureka server (shared/reference/eureka.md). */
export const RECORDED_APPS = `{"applications":{"versions__delta":"1","apps__hashcode":"UP_1_","application":[{"name":"EUREKACONSUMER","instance":[{
 "instanceId":"host:eurekaconsumer:9002","hostName":"10.8.30.55","app":"EUREKACONSUMER","ipAddr":"10.8.30.55",
 "status":"UP","overriddenStatus":"UNKNOWN","port":{"$":9002,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},
 "countryId":1,"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
 "leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":1606972241104,"lastRenewalTimestamp":1606977221655,"evictionTimestamp":0,"serviceUpTimestamp":1606972240279},
 "metadata":{"management.port":"9002"},"homePageUrl":"http://10.8.30.55:9002/","statusPageUrl":"http://10.8.30.55:9002/actuator/info",
 "healthCheckUrl":"http://10.8.30.55:9002/actuator/health","vipAddress":"eurekaconsumer","secureVipAddress":"eurekaconsumer",
 "isCoordinatingDiscoveryServer":"false","lastUpdatedTimestamp":"1606972241104","lastDirtyTimestamp":"1606972240190","actionType":"ADDED"}]}]}}`;

/** Spring's registration body (shared/reference/eureka.md), as Jackson writes it. */
export const SPRING_REGISTRATION = `{"instance":{"instanceId":"host.docker.internal:webservice:8082","app":"WEBSERVICE","appGroupName":null,"ipAddr":"192.168.2.1","sid":"na",
"homePageUrl":"http://host.docker.internal:8082/","statusPageUrl":"http://host.docker.internal:8082/actuator/info",
"healthCheckUrl":"http://host.docker.internal:8082/actuator/health","secureHealthCheckUrl":null,"vipAddress":"webservice",
"secureVipAddress":"webservice","countryId":1,"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
"hostName":"host.docker.internal","status":"UP","overriddenStatus":"UNKNOWN","leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,
"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},"isCoordinatingDiscoveryServer":false,
"lastUpdatedTimestamp":1630906180645,"lastDirtyTimestamp":1630906182808,"actionType":null,"asgName":null,
"port":{"$":8082,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},"metadata":{"management.port":"8082"}}}`;
