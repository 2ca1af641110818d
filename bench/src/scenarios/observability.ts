// What metrics and tracing cost a kit route: the same service with each on, in alternating rounds against it off.
import { startZipkin } from '@trellis/kit/zipkin-server';
import { load, median, startServer, type ServerProcess } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');

/**
 * `GET /hello` (logged at info) on four copies of one kit service: metrics and tracing off, metrics on (the
 * default), and tracing to a real Zipkin at 10 % (Spring's default) and 100 % sampling. Each round loads every copy
 * once, in turn; each copy's figure is the median over rounds of its throughput over the `off` copy's in the same
 * round, so drift on a shared machine cancels out.
 */
export const observability: Scenario = {
  name: 'observability',
  async run({ figure }) {
    const zipkin = await startZipkin();
    const tracing = (probability: string) => ({
      TRELLIS_METRICS: 'true',
      TRELLIS_TRACING: 'zipkin',
      MANAGEMENT_ZIPKIN_TRACING_ENDPOINT: zipkin.spansUrl,
      MANAGEMENT_TRACING_SAMPLING_PROBABILITY: probability,
    });
    const variants = [
      { name: 'off', env: { TRELLIS_METRICS: 'false', TRELLIS_TRACING: 'none' } },
      { name: 'metrics', env: { TRELLIS_METRICS: 'true', TRELLIS_TRACING: 'none' } },
      { name: 'trace10', env: tracing('0.1') },
      { name: 'trace100', env: tracing('1') },
    ] as const;
    const servers: ServerProcess[] = [];
    try {
      for (const v of variants) servers.push(await startServer('kit-service.ts', [], v.env));
      const perRound: number[][] = variants.map(() => []);
      for (let round = 0; round < ROUNDS; round++) {
        for (const [i, server] of servers.entries()) {
          perRound[i]?.push((await load({ url: `${server.url}/hello`, warm: round > 0 })).requestsPerSec);
        }
      }
      const off = perRound[0] ?? [];
      const ratios = (i: number): number[] => (perRound[i] ?? []).map((rps, round) => rps / (off[round] ?? NaN));
      const ratio = (i: number): number => median(ratios(i));
      const spread = (i: number): string =>
        `ratio over ${ROUNDS} rounds ${Math.min(...ratios(i)).toFixed(2)}–${Math.max(...ratios(i)).toFixed(2)}`;
      figure('kit GET /hello, metrics and tracing off', median(off), 'req/s', { note: 'the reference below' });
      figure('kit GET /hello, metrics on / off', ratio(1), 'ratio', {
        min: 0.9,
        note: `${Math.round(median(perRound[1] ?? []))} req/s; http_server_requests_seconds histogram; ${spread(1)}`,
      });
      figure('kit GET /hello, tracing 10 % to Zipkin / off', ratio(2), 'ratio', {
        min: 0.85,
        note: `${Math.round(median(perRound[2] ?? []))} req/s; metrics on too; W3C, spans batched to a real Zipkin; ${spread(2)}`,
      });
      figure('kit GET /hello, tracing 100 % to Zipkin / off', ratio(3), 'ratio', {
        note: `${Math.round(median(perRound[3] ?? []))} req/s; every request a span sent to Zipkin (reported, no target); ${spread(3)}`,
      });
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await zipkin.stop();
    }
  },
};
