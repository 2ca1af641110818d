// The tests' Prometheus helper runs the real prometheus: it scrapes a target's /actuator/prometheus and answers PromQL.
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startPrometheus, type Prometheus, type VectorSample } from './support/prometheus.ts';

function accepts(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until(prometheus: Prometheus, promql: string): Promise<VectorSample[]> {
  for (let i = 0; i < 100; i++) {
    const result = await prometheus.query(promql);
    if (result.length > 0) return result;
    await sleep(100);
  }
  throw new Error(`${promql} stayed empty for 10 s`);
}

describe('startPrometheus', () => {
  const scraped: string[] = [];
  let target: Server | undefined;
  let prometheus: Prometheus | undefined;
  afterAll(async () => {
    await prometheus?.stop();
    await new Promise<void>((resolve) => (target === undefined ? resolve() : target.close(() => resolve())));
  });

  it("scrapes a target's /actuator/prometheus and finds its value through PromQL, then stops", async () => {
    target = createServer((req, res) => {
      scraped.push(req.url ?? '');
      if (req.url !== '/actuator/prometheus') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(
        '# HELP orders_placed_total Orders placed.\n# TYPE orders_placed_total counter\norders_placed_total{shop="north"} 42\n',
      );
    });
    await new Promise<void>((resolve) => target?.listen(0, '127.0.0.1', resolve));
    const address = target.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    prometheus = await startPrometheus({
      targets: [{ job: 'orders', url: `http://127.0.0.1:${address.port}`, metricsPath: '/actuator/prometheus' }],
      scrapeIntervalSeconds: 1,
    });
    expect(prometheus.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const [sample, ...more] = await until(prometheus, 'orders_placed_total{job="orders"}');
    expect(more).toEqual([]);
    expect(sample?.metric).toMatchObject({ __name__: 'orders_placed_total', job: 'orders', shop: 'north' });
    expect(sample?.value[1]).toBe('42');
    expect(scraped).toContain('/actuator/prometheus');
    const [up] = await prometheus.query('up{job="orders"}');
    expect(up?.value[1]).toBe('1');
    await expect(prometheus.query('sum(')).rejects.toThrow(/prometheus refused sum\(/);

    const { url } = prometheus;
    await prometheus.stop();
    prometheus = undefined;
    expect(await accepts(url)).toBe(false);
  }, 60_000);
});
