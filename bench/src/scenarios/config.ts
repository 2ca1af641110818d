// The config server: environment fetches over HTTP and HTTPS against the bare baseline, and change-to-client latency.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

const WATCH_ROUNDS = 40;

/** The p-th percentile (0-100) of samples, nearest rank. */
function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/**
 * Opens `GET /watch/product/docker` over HTTPS, trusting the server's local CA (as a service would), and resolves
 * each `change` event's arrival time.
 */
async function watch(url: string, ca: Buffer): Promise<{ next(): Promise<number>; close(): void }> {
  const waiting: ((at: number) => void)[] = [];
  const arrived: number[] = [];
  let close = (): void => undefined;
  await new Promise<void>((ready, fail) => {
    const req = request(`${url}/watch/product/docker`, { ca, servername: 'localhost' }, (res) => {
      if (res.statusCode !== 200) return fail(new Error(`watch answered ${res.statusCode}`));
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith('event: ready')) ready();
          if (!block.startsWith('event: change')) continue;
          const at = performance.now();
          const w = waiting.shift();
          if (w === undefined) arrived.push(at);
          else w(at);
        }
      });
    });
    req.on('error', fail);
    req.end();
    close = () => req.destroy();
  });
  return {
    next: () =>
      new Promise<number>((resolve, reject) => {
        const early = arrived.shift();
        if (early !== undefined) return resolve(early);
        const timer = setTimeout(() => reject(new Error('no change event within 5 s')), 5000);
        waiting.push((at) => {
          clearTimeout(timer);
          resolve(at);
        });
      }),
    close: () => close(),
  };
}

/** The body of an HTTPS GET, trusting `ca`. */
function fetchBody(url: string, ca: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    request(url, { ca, servername: 'localhost' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${url}: ${res.statusCode}`)),
      );
    })
      .on('error', reject)
      .end();
  });
}

/**
 * The config server's issue-4 figures: `GET /product/docker` on the native backend (4 files, 200 properties, 20
 * `{cipher}` values) over `--http`, like for like with the plain-HTTP baseline (the target), and over HTTPS next to
 * bare node:https serving the same bytes (what TLS costs by itself); and how long a file change takes to reach a
 * watching client.
 */
export const config: Scenario = {
  name: 'config',
  async run({ compare, figure }) {
    const dir = await mkdtemp(join(tmpdir(), 'bench-config-'));
    const repo = join(dir, 'repo');
    try {
      const server = await startServer('config-server.ts', [repo, join(dir, 'data')]);
      try {
        await compare(
          'config GET /product/docker (HTTPS)',
          { url: `${server.url}/product/docker` },
          {
            note: 'HTTPS (the default) against the plain-HTTP baseline: TLS is part of this cost (wrk skips certificate checks)',
          },
        );
        // What TLS alone costs for this body: bare node:https answering the very same bytes with the same certificate.
        const served = join(dir, 'product-docker.json');
        await writeFile(
          served,
          await fetchBody(`${server.url}/product/docker`, await readFile(join(dir, 'data', 'tls', 'ca.pem'))),
        );
        const bare = await startServer('static.ts', [
          served,
          'application/json',
          join(dir, 'data', 'tls', 'server-key.pem'),
          join(dir, 'data', 'tls', 'server.pem'),
        ]);
        try {
          await compare(
            'bare node:https, the same response body',
            { url: `${bare.url}/product/docker` },
            {
              note: 'reference: the ceiling of any Node HTTPS server for this body',
            },
          );
        } finally {
          await bare.stop();
        }

        const ca = await readFile(join(dir, 'data', 'tls', 'ca.pem'));
        const stream = await watch(server.url, ca);
        const file = join(repo, 'product-docker.yml');
        const latencies: number[] = [];
        try {
          for (let i = 1; i <= WATCH_ROUNDS; i++) {
            const text = await readFile(file, 'utf8');
            const written = performance.now();
            await writeFile(file, text.replace(/^bench\.tick: .*$/m, `bench.tick: ${i}`));
            latencies.push((await stream.next()) - written);
            // Apart from each other, as edits are: the native backend debounces bursts on purpose.
            await new Promise((r) => setTimeout(r, 50));
          }
        } finally {
          stream.close();
        }
        figure('config change on disk → watching client, p99', percentile(latencies, 99), 'ms', {
          max: 200,
          note: `${WATCH_ROUNDS} edits of product-docker.yml over HTTPS; p50 ${percentile(latencies, 50).toFixed(1)} ms`,
        });
      } finally {
        await server.stop();
      }

      const plain = await startServer('config-server.ts', [join(dir, 'repo-http'), join(dir, 'data-http'), '--http']);
      try {
        await compare(
          'config GET /product/docker (--http)',
          { url: `${plain.url}/product/docker` },
          {
            target: 0.4,
            note: 'plain HTTP like the baseline, so the ratio is the config server’s own cost (HTTPS figure above)',
          },
        );
      } finally {
        await plain.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
