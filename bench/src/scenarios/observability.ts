// What metrics and tracing cost a kit route: the same service with each on, in alternating rounds against it off.
import { startZipkin } from '@trellis/kit/zipkin-server';
import { load, median, startServer, type ServerProcess } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');

/**
 * `GET /hello` (logged at info) on four copies of one kit service: metrics and tracing off, metrics on (the
 * default), and metrics on with tracing to a real Zipkin at 10 % (Spring's default) and 100 % sampling. Each copy is
 * warmed up first; then each round loads every copy once, in an order that reverses every round. Metrics are compared
 * with the copy that has neither, tracing with the copy that has metrics alone (tracing on against tracing off), each
 * as the median over rounds of the throughput ratio within a round, so drift on a shared machine cancels out.
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
      // JIT and connection set-up before any figure: a first round would otherwise count against whoever goes first.
      for (const server of servers) await load({ url: `${server.url}/hello`, durationSec: 3 });
      const perRound: number[][] = variants.map(() => []);
      for (let round = 0; round < ROUNDS; round++) {
        const order = [...servers.keys()];
        if (round % 2 === 1) order.reverse();
        for (const i of order) {
          const server = servers[i];
          if (server !== undefined) {
            perRound[i]?.push((await load({ url: `${server.url}/hello`, warm: true })).requestsPerSec);
          }
        }
      }
      const rps = (i: number): number[] => perRound[i] ?? [];
      const ratios = (i: number, base: number): number[] => rps(i).map((r, round) => r / (rps(base)[round] ?? NaN));
      const spread = (i: number, base: number): string =>
        `ratio over ${ROUNDS} rounds ${Math.min(...ratios(i, base)).toFixed(2)}–${Math.max(...ratios(i, base)).toFixed(2)}`;
      const reqs = (i: number): string => `${Math.round(median(rps(i)))} req/s`;
      figure('kit GET /hello, metrics and tracing off', median(rps(0)), 'req/s', {
        note: 'the reference of the next row',
      });
      figure('kit GET /hello, metrics on / off', median(ratios(1, 0)), 'ratio', {
        min: 0.9,
        note: `${reqs(1)}; http_server_requests_seconds histogram; ${spread(1, 0)}`,
      });
      figure('kit GET /hello, tracing 10 % to Zipkin / tracing off', median(ratios(2, 1)), 'ratio', {
        min: 0.85,
        note: `${reqs(2)}; metrics on in both; W3C, spans batched to a real Zipkin on the same 2 cores; ${spread(2, 1)}`,
      });
      figure('kit GET /hello, tracing 100 % to Zipkin / tracing off', median(ratios(3, 1)), 'ratio', {
        note: `${reqs(3)}; every request a span sent to Zipkin (reported, no target); ${spread(3, 1)}`,
      });
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await zipkin.stop();
    }
  },
};
