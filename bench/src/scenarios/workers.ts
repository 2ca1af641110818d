// --workers: the gateway and the auth server with one worker process and with two, the req/s the added worker brings
// and the cores each setup kept busy (what bounds it on a small machine).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopProcess } from '@trellis/kit';
import { load, median, startServer, TRELLIS_BIN, type LoadOptions } from '../harness.ts';
import type { Scenario } from '../scenario.ts';
import { checkIssues, cpuSeconds, machineBusySeconds, tokenRequest } from './auth-postgres.ts';
import { registerClient } from './security.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');

interface Server {
  /** The primary (or, with one worker, the only process). */
  readonly pid: number;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * `trellis <args> --workers <n>` (JSON logs at info, as deployed): answers once every worker is ready (the primary's
 * "all workers ready" line), or with one worker once it listens. Its output is read to the end and dropped.
 */
function startWorkers(args: readonly string[], workers: number, env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const child: ChildProcess = spawn(
    process.execPath,
    [TRELLIS_BIN, ...args, '--workers', String(workers), '--log-format', 'json'],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = args[args.indexOf('--port') + 1];
  const ready = workers === 1 ? /"msg":"listening"/ : /all workers ready/;
  let out = '';
  let settled = false;
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      const logs = out.split('\n').filter((l) => l.startsWith('{'));
      reject(new Error(`bench: trellis ${args[0]} --workers ${workers} ${why}:\n${logs.join('\n').slice(-2000)}`));
    };
    const timer = setTimeout(() => fail('did not start within 60 s'), 60_000);
    const read = (chunk: Buffer): void => {
      if (settled) return;
      out += chunk.toString('utf8');
      if (!ready.test(out)) return;
      settled = true;
      clearTimeout(timer);
      resolve({ pid: child.pid ?? 0, url: `http://127.0.0.1:${port}`, stop: () => stopProcess(child) });
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before it was ready`));
  });
}

/** The process and its children (the workers), from /proc. */
async function processTree(pid: number): Promise<number[]> {
  try {
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim();
    return [pid, ...(children === '' ? [] : children.split(/\s+/).map(Number))];
  } catch {
    return [pid];
  }
}

interface Sample {
  readonly rps: number;
  /** Cores busy on average during the load: the server's processes (primary and workers), the whole machine. */
  readonly server: number;
  readonly machine: number;
}

/** One measured run (after a warm-up the first round gives) and the cores it took. */
async function sample(request: LoadOptions, server: Server): Promise<Sample> {
  const pids = await processTree(server.pid);
  const cpu = async (): Promise<number> => (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
  const before = { server: await cpu(), machine: await machineBusySeconds(), at: performance.now() };
  const result = await load({ ...request, warm: true });
  const seconds = (performance.now() - before.at) / 1000;
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`bench: ${request.url}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
  }
  return {
    rps: result.requestsPerSec,
    server: ((await cpu()) - before.server) / seconds,
    machine: ((await machineBusySeconds()) - before.machine) / seconds,
  };
}

/** Paired rounds, two workers then one and the other way round in turn, after a warm-up of each. */
async function pairedRounds(request: (server: Server) => LoadOptions, two: Server, one: Server) {
  await load(request(two));
  await load(request(one));
  const twos: Sample[] = [];
  const ones: Sample[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      twos.push(await sample(request(two), two));
      ones.push(await sample(request(one), one));
    } else {
      ones.push(await sample(request(one), one));
      twos.push(await sample(request(two), two));
    }
  }
  const ratios = twos.map((t, i) => t.rps / (ones[i]?.rps ?? Number.NaN));
  const med = (list: readonly Sample[], key: keyof Sample): number => median(list.map((s) => s[key]));
  return {
    two: med(twos, 'rps'),
    one: med(ones, 'rps'),
    ratio: median(ratios),
    spread: `ratio over ${ROUNDS} rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`,
    cores: (list: readonly Sample[]) => {
      const server = med(list, 'server');
      const machine = med(list, 'machine');
      return `server ${server.toFixed(2)}, the rest ${(machine - server).toFixed(2)} (wrk and whatever else runs), machine ${machine.toFixed(2)} of ${availableParallelism()}`;
    },
    twos,
    ones,
  };
}

type Rounds = Awaited<ReturnType<typeof pairedRounds>>;

/** The figures of one server: the ratio, and the req/s the second worker added, with the cores that bound them. */
function report(figure: Parameters<Scenario['run']>[0]['figure'], what: string, r: Rounds): void {
  const bound =
    availableParallelism() <= 2
      ? `; on ${availableParallelism()} cores wrk (one thread) takes most of one, so two workers share the other with ` +
        'everything else: the added worker can only bring what the machine has idle'
      : '';
  figure(`${what}, 2 workers / 1`, r.ratio, 'ratio', {
    note:
      `${Math.round(r.two)} vs ${Math.round(r.one)} req/s; ${r.spread}; cores busy with 1 worker: ${r.cores(r.ones)}; ` +
      `with 2: ${r.cores(r.twos)}${bound}`,
  });
  figure(`${what}, req/s added by the second worker`, r.two - r.one, 'req/s', {
    note: `per added worker; ${(r.ratio * 100 - 100).toFixed(0)} % over one worker`,
  });
}

/**
 * The gateway (a Path route to the baseline server) and the auth server (client_credentials, RS256, SQLite), each
 * started by `trellis` with --workers 1 and --workers 2 side by side and loaded in paired rounds. The connections
 * stay open (wrk keeps them alive), so the figure is the workers' throughput, not the primary's accept rate.
 */
export const workers: Scenario = {
  name: 'workers',
  async run({ figure }) {
    const dir = await mkdtemp(join(tmpdir(), 'bench-workers-'));
    const servers: Server[] = [];
    const upstream = await startServer('baseline.ts');
    try {
      const routes = join(dir, 'routes.yml');
      await writeFile(
        routes,
        [
          'spring.cloud.gateway.routes:',
          '- id: direct',
          `  uri: ${upstream.url}`,
          '  predicates: [Path=/product/**]',
          '  filters: [Public]',
          '',
        ].join('\n'),
      );
      const gateway = async (n: number): Promise<Server> => {
        const args = ['gateway', '--http-only', '--port', String(await freePort()), '--host', '127.0.0.1'];
        const server = await startWorkers([...args, '--data-dir', join(dir, `gw${n}`), '--routes-file', routes], n);
        servers.push(server);
        return server;
      };
      const [gwOne, gwTwo] = [await gateway(1), await gateway(2)];
      const gw = await pairedRounds((s) => ({ url: `${s.url}/product/1` }), gwTwo, gwOne);
      report(figure, 'gateway Path route', gw);
      await Promise.all([gwOne.stop(), gwTwo.stop()]);

      const registrationToken = randomBytes(24).toString('base64url');
      const auth = async (n: number): Promise<{ server: Server; request: LoadOptions }> => {
        const port = await freePort();
        const args = ['auth-server', '--port', String(port), '--host', '127.0.0.1', '--data-dir', join(dir, `as${n}`)];
        const server = await startWorkers(args, n, { AUTH_REGISTRATION_TOKEN: registrationToken });
        servers.push(server);
        const request = tokenRequest(server.url, await registerClient(server.url, registrationToken));
        await checkIssues(request);
        return { server, request };
      };
      const [asOne, asTwo] = [await auth(1), await auth(2)];
      const as = await pairedRounds(
        (s) => (s === asTwo.server ? asTwo.request : asOne.request),
        asTwo.server,
        asOne.server,
      );
      report(figure, 'auth server client_credentials', as);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await upstream.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
