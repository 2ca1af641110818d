// The soak: the landscape of `npm start` under a steady mixed load (calls through the gateway, tokens, config,
// registry reads and heartbeats) for ten minutes, with its memory, open files and latency watched for drift.
import { readdir, readFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { residentMb } from '../harness.ts';
import type { Scenario } from '../scenario.ts';
import { startLandscape, urlOf } from './landscape.ts';

/** Minutes of load, the first of which is the warm-up every later reading is compared with. */
const MINUTES = Number(process.env.SOAK_MINUTES ?? '10');
/** Requests per second: steady, well below what the landscape can take, as a service sees a working day. */
const RATE = Number(process.env.SOAK_RATE ?? '150');
const SAMPLE_MS = 5_000;
/** Requests in flight at most; beyond it a tick is counted as missed rather than queued without bound. */
const MAX_IN_FLIGHT = 64;
const SOAK_INSTANCES = 10;

interface Call {
  readonly method: 'GET' | 'PUT' | 'POST';
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

function match(text: string, pattern: RegExp, what: string): string {
  const found = pattern.exec(text)?.[1];
  if (found === undefined) throw new Error(`bench: no ${what} in the landscape's summary`);
  return found;
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

/** One request on a keep-alive agent (https with the landscape's CA), answered with its status and body. */
function send(call: Call, agents: { http: HttpAgent; https: HttpsAgent }): Promise<Answer> {
  const secure = call.url.startsWith('https:');
  const request = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      call.url,
      { method: call.method, headers: call.headers, agent: secure ? agents.https : agents.http, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(call.body);
  });
}

/** The first two path segments, so failures are counted per kind of call, not per id. */
function route(url: string): string {
  return new URL(url).pathname.split('/').slice(0, 3).join('/');
}

interface Sample {
  readonly atMs: number;
  readonly rssMb: number;
  readonly openFiles: number;
}

async function sample(pid: number, startedAt: number): Promise<Sample> {
  const [rssMb, fds] = await Promise.all([residentMb(pid), readdir(`/proc/${pid}/fd`)]);
  return { atMs: Date.now() - startedAt, rssMb, openFiles: fds.length };
}

export const soak: Scenario = {
  name: 'soak',
  async run({ figure }) {
    const landscape = await startLandscape();
    const out = landscape.summary;
    const pid = landscape.child.pid ?? 0;
    const agents = {
      http: new HttpAgent({ keepAlive: true, maxSockets: 32 }),
      https: new HttpsAgent({
        keepAlive: true,
        maxSockets: 16,
        ca: await readFile(match(out, /Local CA: (\S+)/, 'local CA'), 'utf8'),
      }),
    };
    try {
      const gateway = urlOf(out, 'gateway');
      const registry = urlOf(out, 'registry');
      const authServer = urlOf(out, 'auth-server');
      const configServer = match(out, /^ {2}config-server +(https:\/\/\S+)/m, 'config server URL');
      const reader = match(out, /development client reader \/ (\S+)/, 'reader client');
      const registryWriter = basic('registry', match(out, /write credential registry \/ (\S+)/, 'registry credential'));
      const configReader = basic(
        'landscape',
        match(out, /development credential landscape \/ (\S+)/, 'config credential'),
      );
      const tokenCall: Call = {
        method: 'POST',
        url: `${authServer}/oauth2/token`,
        headers: { authorization: basic('reader', reader), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=product%3Aread',
      };
      const freshToken = async (): Promise<{ token: string; expiresInSec: number }> => {
        const answer = await send(tokenCall, agents);
        const body = JSON.parse(answer.body) as { access_token?: string; expires_in?: number };
        if (body.access_token === undefined) throw new Error(`bench: no token (${answer.status})`);
        return { token: body.access_token, expiresInSec: body.expires_in ?? 300 };
      };
      const initial = await freshToken();

      // Instances of their own, registered once and then renewed, as services keep their leases.
      const instances = Array.from({ length: SOAK_INSTANCES }, (_, i) => `soak-${i}`);
      for (const id of instances) {
        const registered = await send(
          {
            method: 'POST',
            url: `${registry}/eureka/apps/SOAK`,
            headers: { authorization: registryWriter, 'content-type': 'application/json' },
            body: JSON.stringify({
              instance: {
                instanceId: id,
                hostName: '127.0.0.1',
                app: 'SOAK',
                ipAddr: '127.0.0.1',
                status: 'UP',
                port: { $: 9, '@enabled': 'true' },
                dataCenterInfo: {
                  '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo',
                  name: 'MyOwn',
                },
              },
            }),
          },
          agents,
        );
        if (registered.status !== 204) throw new Error(`bench: registering ${id} answered ${registered.status}`);
      }

      // The mix, by weight: mostly calls through the gateway, as the landscape's traffic would be.
      let bearer = { authorization: `Bearer ${initial.token}` };
      // As a client does: a new token at half the lifetime of the one it holds, so calls never carry an expired one.
      const renewal = setInterval(
        () => {
          freshToken().then(
            ({ token }) => (bearer = { authorization: `Bearer ${token}` }),
            () => undefined, // the next renewal tries again; a call with the old token shows as a failure meanwhile
          );
        },
        (initial.expiresInSec * 1000) / 2,
      );
      renewal.unref();
      let heartbeat = 0;
      const mix: { weight: number; call: () => Call }[] = [
        {
          weight: 50,
          call: () => ({
            method: 'GET',
            // The sample data's three products.
            url: `${gateway}/product-composite/${1 + Math.floor(Math.random() * 3)}`,
            headers: bearer,
          }),
        },
        { weight: 5, call: () => tokenCall },
        {
          weight: 15,
          call: () => ({
            method: 'GET',
            url: `${configServer}/product/docker`,
            headers: { authorization: configReader },
          }),
        },
        {
          weight: 10,
          call: () => ({
            method: 'GET',
            url: `${registry}/eureka/apps`,
            headers: { accept: 'application/json', 'accept-encoding': 'identity' },
          }),
        },
        {
          weight: 20,
          call: () => ({
            method: 'PUT',
            url: `${registry}/eureka/apps/SOAK/${instances[heartbeat++ % instances.length]}?status=UP`,
            headers: { authorization: registryWriter },
          }),
        },
      ];
      const total = mix.reduce((sum, m) => sum + m.weight, 0);
      const pick = (): Call => {
        let r = Math.random() * total;
        for (const m of mix) if ((r -= m.weight) < 0) return m.call();
        return mix[0]!.call();
      };

      const perMinute: RecordableHistogram[] = [];
      const failures = new Map<string, number>();
      let sent = 0;
      let missed = 0;
      let inFlight = 0;
      const samples: Sample[] = [];
      const startedAt = Date.now();
      const endAt = startedAt + MINUTES * 60_000;
      const intervalMs = 1000 / RATE;
      const sampling = (async () => {
        while (Date.now() < endAt) {
          samples.push(await sample(pid, startedAt));
          await sleep(SAMPLE_MS);
        }
      })();

      // Paced on a schedule, not as fast as answers come: a slow landscape shows as latency, not as less load.
      let next = startedAt;
      while (Date.now() < endAt) {
        next += intervalMs;
        const wait = next - Date.now();
        if (wait > 1) await sleep(wait);
        if (inFlight >= MAX_IN_FLIGHT) {
          missed++;
          continue;
        }
        const minute = Math.floor((Date.now() - startedAt) / 60_000);
        const histogram = (perMinute[minute] ??= createHistogram());
        const call = pick();
        const began = process.hrtime.bigint();
        inFlight++;
        sent++;
        send(call, agents)
          .then(({ status }) => {
            if (status >= 400) {
              const key = `${call.method} ${route(call.url)} → ${status}`;
              failures.set(key, (failures.get(key) ?? 0) + 1);
            }
          })
          .catch((err: unknown) => {
            const key = `${call.method} ${route(call.url)}: ${err instanceof Error ? err.message : String(err)}`;
            failures.set(key, (failures.get(key) ?? 0) + 1);
          })
          .finally(() => {
            inFlight--;
            histogram.record(Math.max(1, Number((process.hrtime.bigint() - began) / 1000n)));
          });
      }
      await sampling;
      clearInterval(renewal);
      while (inFlight > 0) await sleep(50);

      const failed = [...failures.values()].reduce((a, b) => a + b, 0);
      const steady = samples.filter((s) => s.atMs >= 60_000);
      const first = steady[0] ?? samples[0]!;
      const last = samples.at(-1)!;
      const rss = steady.map((s) => s.rssMb);
      // Whole minutes only: the requests still in flight at the end make a last bucket of a few.
      const p99s = perMinute.slice(0, MINUTES).map((h) => h.percentile(99) / 1000);
      const firstP99 = p99s[1] ?? p99s[0] ?? Number.NaN;
      const worstP99 = Math.max(...p99s.slice(1));
      figure('soak: requests answered', sent - failed, 'requests', {
        note: `${MINUTES} min at ${RATE}/s: gateway 50 %, config 15 %, heartbeats 20 %, registry reads 10 %, tokens 5 %${missed > 0 ? `; ${missed} ticks missed (${MAX_IN_FLIGHT} in flight)` : ''}`,
      });
      figure('soak: failed requests', failed, 'requests', {
        max: 0,
        note: failed === 0 ? 'none' : [...failures].map(([k, n]) => `${k} ×${n}`).join('; '),
      });
      figure('soak: RSS drift after the first minute', ((Math.max(...rss) - first.rssMb) / first.rssMb) * 100, '%', {
        max: 10,
        note: `${first.rssMb.toFixed(0)} MB at 1 min, ${Math.min(...rss).toFixed(0)}–${Math.max(...rss).toFixed(0)} MB after, ${last.rssMb.toFixed(0)} MB at the end`,
      });
      figure('soak: open files growth after the first minute', last.openFiles - first.openFiles, 'files', {
        max: 0,
        note: `${first.openFiles} at 1 min, ${Math.min(...steady.map((s) => s.openFiles))}–${Math.max(...steady.map((s) => s.openFiles))} after`,
      });
      figure('soak: worst minute p99 / second minute p99', worstP99 / firstP99, 'ratio', {
        max: 1.5,
        note: `p99 per minute (ms): ${p99s.map((p) => p.toFixed(1)).join(', ')}`,
      });
    } finally {
      agents.http.destroy();
      agents.https.destroy();
      await landscape.stop();
    }
  },
};
