// Worker mode (`--workers N`): one primary process forks N workers of a server that share its port (node:cluster),
// restarts the ones that die, stops them gracefully, relays messages between them and aggregates their meters.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Registry, RegistryContentType } from 'prom-client';
import type { Logger } from './logger.ts';
import type { SettingSpec } from './settings.ts';

/** The environment variable of `--workers`. */
export const WORKERS_ENV = 'TRELLIS_WORKERS';
/** Set by the primary in each worker's environment: its slot (1..N) and N. */
const SLOT_ENV = 'TRELLIS_WORKER_SLOT';
const COUNT_ENV = 'TRELLIS_WORKER_COUNT';
/** Set in a worker that replaces one that died. */
const RESTART_ENV = 'TRELLIS_WORKER_RESTART';
/** More workers than this is a typo, not a machine. */
const MAX_WORKERS = 256;

/**
 * `--workers N` (TRELLIS_WORKERS): how many processes serve the port; `auto` is one per core the process may use
 * (os.availableParallelism). A component opts in by adding it to its settings; the others refuse the flag.
 */
export function workersSetting(): SettingSpec<number, true> {
  return {
    flag: 'workers',
    env: WORKERS_ENV,
    default: 1,
    help:
      'processes serving the port (node:cluster): 1 runs in this process; N > 1 makes it a primary that forks N ' +
      'workers sharing the port and restarts any that dies; auto is one per core',
    accepts: `a whole number from 1 to ${MAX_WORKERS}, or auto`,
    parse: (raw) => {
      const value = raw.trim().toLowerCase();
      if (value === 'auto') return availableParallelism();
      if (!/^\d+$/.test(value)) throw new Error('not a number');
      const n = Number(value);
      if (n < 1 || n > MAX_WORKERS) throw new Error('out of range');
      return n;
    },
  };
}

/** A worker's place among its siblings. */
export interface WorkerSlot {
  /** 1..count; a restarted worker takes the slot of the one it replaces. */
  readonly slot: number;
  readonly count: number;
  /** Whether this worker replaces one that died (it prints no start-up summary again). */
  readonly restarted: boolean;
}

/** This process's slot when it is a worker forked by runWorkers; undefined in a single process (`--workers 1`). */
export function currentWorker(): WorkerSlot | undefined {
  if (!cluster.isWorker) return undefined;
  const slot = Number(process.env[SLOT_ENV]);
  const count = Number(process.env[COUNT_ENV]);
  if (!Number.isSafeInteger(slot) || !Number.isSafeInteger(count)) return undefined;
  return { slot, count, restarted: process.env[RESTART_ENV] === '1' };
}

/**
 * How a worker binds a listener on `port`. On Linux each worker binds its own socket with SO_REUSEPORT and the kernel
 * spreads new connections over them, so the primary stays out of the accept path. node's round-robin puts it there
 * (it accepts, then hands each connection to a worker over IPC): on two cores, with wrk opening a connection per
 * request, about 8,000 requests/s against 5,500 and the primary a quarter of a core busy; kept-alive connections cost
 * the same either way and both spread them evenly. The price: connections the kernel queued on a worker's socket in
 * the instant it crashed are reset (behind the primary's socket they would wait for another worker). Port 0 and other
 * systems keep node's shared socket, so every worker gets the same port.
 */
export function workerListenOptions(port: number): { reusePort?: boolean; exclusive?: boolean } {
  if (currentWorker() === undefined || port === 0 || process.platform !== 'linux') return {};
  return { reusePort: true, exclusive: true };
}

// ---- messages between the primary and its workers ----

/** Every message carries this key, so the cluster's own and prom-client's messages are told apart. */
const TAG = 'trellis-workers';

type Message =
  /** worker → primary: started; primary → worker: stop gracefully. */
  | { readonly [TAG]: 'ready' | 'stop' }
  /** worker → primary → every other worker: something changed that each worker must pick up (a key rotation). */
  | { readonly [TAG]: 'broadcast'; readonly topic: string }
  /** worker → primary: a scrape arrived; primary → worker: the aggregate. */
  | { readonly [TAG]: 'scrape'; readonly id: number; readonly openMetrics: boolean }
  | { readonly [TAG]: 'scraped'; readonly id: number; readonly contentType: string; readonly body: string }
  /** primary → worker: send your meters; worker → primary: here they are (prom-client's JSON). */
  | { readonly [TAG]: 'meters'; readonly id: number }
  | { readonly [TAG]: 'meters-of'; readonly id: number; readonly meters: unknown[] };

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && TAG in value;
}

function sendToPrimary(message: Message): void {
  // A worker whose primary is gone cannot be helped by throwing; it is stopped by the disconnect.
  if (process.connected) process.send?.(message);
}

/** Tells the primary this worker has started: a worker that exits before saying so failed at start. */
export function reportWorkerReady(): void {
  if (currentWorker() !== undefined) sendToPrimary({ [TAG]: 'ready' });
}

/**
 * Calls `stop` when the primary asks this worker to stop (it got SIGTERM or SIGINT); nothing outside a worker. A
 * request, not a signal: a worker that got the same signal itself (Ctrl-C reaches the whole process group) is not
 * made to exit at once as by a second signal.
 */
export function onPrimaryStop(stop: () => void): void {
  if (currentWorker() === undefined) return;
  process.on('message', (message: unknown) => {
    if (isMessage(message) && message[TAG] === 'stop') stop();
  });
  // The primary died (SIGKILL): no one restarts or stops this worker any more, so it stops itself.
  process.on('disconnect', stop);
}

const topicListeners = new Map<string, Set<() => void>>();

/**
 * Tells every other worker of this server about `topic` (e.g. the signing keys changed); nothing outside a worker.
 * Delivery is at most once: a worker that is restarting misses it and reads the state afresh as it starts.
 */
export function broadcastToWorkers(topic: string): void {
  if (currentWorker() !== undefined) sendToPrimary({ [TAG]: 'broadcast', topic });
}

/** Calls `listener` when another worker broadcasts `topic`; returns a function that stops listening. */
export function onWorkerBroadcast(topic: string, listener: () => void): () => void {
  if (currentWorker() === undefined) return () => undefined;
  ensureWorkerListener();
  let set = topicListeners.get(topic);
  if (set === undefined) topicListeners.set(topic, (set = new Set()));
  set.add(listener);
  return () => set.delete(listener);
}

// ---- meters: a scrape on any worker answers the sum of all ----

const registries = new Set<Registry<RegistryContentType>>();
const scrapes = new Map<number, (result: { contentType: string; body: string }) => void>();
let nextScrape = 0;
let workerListening = false;

function ensureWorkerListener(): void {
  if (workerListening) return;
  workerListening = true;
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    switch (message[TAG]) {
      case 'broadcast':
        for (const listener of topicListeners.get(message.topic) ?? []) listener();
        break;
      case 'meters':
        void Promise.all([...registries].map((r) => r.getMetricsAsJSON())).then(
          (meters) => sendToPrimary({ [TAG]: 'meters-of', id: message.id, meters }),
          // Answering nothing would hold every scrape until the primary's timeout.
          () => sendToPrimary({ [TAG]: 'meters-of', id: message.id, meters: [] }),
        );
        break;
      case 'scraped':
        scrapes.get(message.id)?.({ contentType: message.contentType, body: message.body });
        scrapes.delete(message.id);
        break;
      case 'ready':
      case 'stop': // heard by onPrimaryStop
      case 'scrape':
      case 'meters-of':
        // what a worker sends, not what it is sent
        break;
    }
  });
}

/** Counts `registry` in this worker's share of the aggregate scrape; does nothing outside a worker. */
export function addWorkerRegistry(registry: Registry<RegistryContentType>): void {
  if (currentWorker() === undefined) return;
  ensureWorkerListener();
  registries.add(registry);
}

/** How long a scrape waits for the primary's aggregate before the worker answers with its own meters. */
const SCRAPE_TIMEOUT_MS = 5000;

/**
 * The scrape of every worker together, as the primary aggregates it (counters and histograms summed, gauges by their
 * own rule), or undefined outside a worker or when the primary does not answer in time (the caller renders its own).
 */
export function scrapeAllWorkers(openMetrics: boolean): Promise<{ contentType: string; body: string }> | undefined {
  if (currentWorker() === undefined || !process.connected) return undefined;
  ensureWorkerListener();
  const id = nextScrape++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      scrapes.delete(id);
      reject(new Error('the primary did not aggregate the workers’ meters in time'));
    }, SCRAPE_TIMEOUT_MS);
    scrapes.set(id, (result) => {
      clearTimeout(timer);
      resolve(result);
    });
    sendToPrimary({ [TAG]: 'scrape', id, openMetrics });
  });
}

// ---- the primary ----

export interface PrimaryOptions {
  /** The component's name, in log lines. */
  readonly name: string;
  readonly workers: number;
  readonly logger: Logger;
  readonly exit?: (code: number) => void;
  readonly stderr?: { write(text: string): unknown };
  /** First wait before restarting a worker that died; doubles with each death in a row, up to maxRestartDelayMs. */
  readonly restartDelayMs?: number;
  readonly maxRestartDelayMs?: number;
  /** A worker up this long has recovered: the next death waits restartDelayMs again. Default 30 s. */
  readonly healthyAfterMs?: number;
  /**
   * Starts in a row that end before the worker is ready before the primary gives up (exit 1), while no worker has
   * started yet; afterwards failed starts are retried with the doubling wait. Default 3.
   */
  readonly maxStartFailures?: number;
  /** How long workers have to stop gracefully before they are killed. Default 30 s. */
  readonly stopTimeoutMs?: number;
}

/** Exit code of a worker whose start failed for a reason the user must fix (a port in use, a bad file): see lifecycle. */
const USER_ERROR_EXIT = 2;

interface Slot {
  readonly slot: number;
  worker: Worker | undefined;
  ready: boolean;
  startedAt: number;
  /** Deaths in a row without a healthy stretch between them. */
  deaths: number;
  /** Starts in a row that failed before the worker was ready. */
  failedStarts: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Runs this process as the primary of `workers` worker processes, each started with the same command line and
 * environment (plus its slot). Resolves once all have stopped and the exit code is handed to `exit`: 0 after SIGTERM
 * or SIGINT, 2 when a worker refused its settings or port, 1 when workers keep failing at start; both of these only
 * before any worker has started, since after that a replacement that fails is retried while the others serve.
 */
export async function runWorkers(options: PrimaryOptions): Promise<void> {
  const { logger: log, workers: count } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const restartDelayMs = options.restartDelayMs ?? 250;
  const maxRestartDelayMs = options.maxRestartDelayMs ?? 10_000;
  const healthyAfterMs = options.healthyAfterMs ?? 30_000;
  const maxStartFailures = options.maxStartFailures ?? 3;
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  const slots: Slot[] = Array.from({ length: count }, (_, i) => ({
    slot: i + 1,
    worker: undefined,
    ready: false,
    startedAt: 0,
    deaths: 0,
    failedStarts: 0,
    timer: undefined,
  }));
  let stopping = false;
  /** Whether a worker has ever been ready: from then on, failed starts are retried rather than fatal. */
  let served = false;
  let exitCode = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const aggregator = new MeterAggregator(log);

  const live = (): Worker[] => slots.flatMap((s) => (s.worker === undefined ? [] : [s.worker]));
  const send = (worker: Worker, message: Message): void => {
    if (worker.isConnected()) worker.send(message);
  };

  const stopAll = (code: number, reason: string): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    log.info({ workers: live().length, reason }, 'stopping workers');
    for (const s of slots) clearTimeout(s.timer);
    for (const s of slots) {
      // One still starting may not listen for the request yet (it would be lost, and the worker killed only after
      // stopTimeoutMs): it gets SIGTERM, which its start-up either handles as a stop or dies of.
      if (s.worker === undefined) continue;
      if (s.ready) send(s.worker, { [TAG]: 'stop' });
      else s.worker.process.kill('SIGTERM');
    }
    const kill = setTimeout(() => {
      for (const worker of live()) {
        log.warn({ workerPid: worker.process.pid }, 'worker did not stop in time; killed');
        worker.process.kill('SIGKILL');
      }
    }, stopTimeoutMs);
    kill.unref();
    if (live().length === 0) finish();
  };

  const fork = (s: Slot): void => {
    s.timer = undefined;
    if (stopping) return;
    const worker = cluster.fork({
      [SLOT_ENV]: String(s.slot),
      [COUNT_ENV]: String(count),
      [RESTART_ENV]: s.startedAt === 0 ? '0' : '1',
    });
    s.worker = worker;
    s.ready = false;
    s.startedAt = Date.now();
    const pid = worker.process.pid;
    worker.on('message', (message: unknown) => {
      if (!isMessage(message)) return;
      switch (message[TAG]) {
        case 'ready':
          s.ready = true;
          s.failedStarts = 0;
          served = true;
          log.info({ worker: s.slot, workerPid: pid }, 'worker ready');
          if (slots.every((x) => x.ready)) log.info({ workers: count }, `${options.name}: all workers ready`);
          break;
        case 'broadcast':
          for (const other of live()) if (other !== worker) send(other, message);
          break;
        case 'scrape':
          void aggregator
            .scrape(live(), message.openMetrics)
            .then((result) => send(worker, { [TAG]: 'scraped', id: message.id, ...result }))
            // The asking worker answers with its own meters after its timeout.
            .catch((err: unknown) => log.warn({ err }, 'the workers’ meters could not be aggregated'));
          break;
        case 'meters-of':
          aggregator.received(worker, message.id, message.meters);
          break;
        case 'stop':
        case 'meters':
        case 'scraped':
          // what the primary sends, not what it is sent
          break;
      }
    });
    worker.on('exit', (code, signal) => {
      s.worker = undefined;
      aggregator.gone(worker);
      if (stopping) {
        if (live().length === 0) finish();
        return;
      }
      const upMs = Date.now() - s.startedAt;
      let reason = signal === null ? `exited with code ${String(code)}` : `killed by ${signal}`;
      if (!s.ready) {
        s.failedStarts++;
        reason =
          code === USER_ERROR_EXIT
            ? 'refused to start (exit 2): a setting or file it reads is wrong; its own log says which'
            : 'failed at start';
        // Until a worker has started, a failure is the server's start failing: a refusal the user must fix fails the
        // same way again, so stop at once with its code, as one process would. Once the port is served, a replacement
        // that fails (a routes file broken since, refused by the API but read afresh at start) must not take the
        // healthy workers down with it: it is retried like any death, with the doubling wait, until it starts again.
        if (!served && code === USER_ERROR_EXIT) {
          stopAll(USER_ERROR_EXIT, `worker ${s.slot} refused to start`);
          return;
        }
        if (!served && s.failedStarts >= maxStartFailures) {
          log.error(
            { worker: s.slot, code, signal, starts: s.failedStarts },
            'worker keeps failing at start; giving up',
          );
          stopAll(1, `worker ${s.slot} failed ${s.failedStarts} starts in a row`);
          return;
        }
      }
      s.deaths = upMs >= healthyAfterMs ? 1 : s.deaths + 1;
      const delay = Math.min(maxRestartDelayMs, restartDelayMs * 2 ** (s.deaths - 1));
      const serving = slots.filter((x) => x.ready && x.worker !== undefined).length;
      log.warn(
        { worker: s.slot, workerPid: pid, code, signal, reason, serving, restartInMs: delay },
        'worker exited; restarting it',
      );
      s.timer = setTimeout(() => fork(s), delay);
    });
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      (options.stderr ?? process.stderr).write(`trellis: ${signal} again, killing the workers without waiting\n`);
      for (const worker of live()) worker.process.kill('SIGKILL');
      release();
      exit(1);
      return;
    }
    stopAll(0, signal);
  };
  const release = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  log.info({ workers: count }, `${options.name}: starting ${count} workers`);
  for (const s of slots) fork(s);
  await finished;
  release();
  exit(exitCode);
}

/** The primary's side of a scrape: asks every worker for its meters and sums them with prom-client's aggregator. */
class MeterAggregator {
  readonly #log: Logger;
  #next = 0;
  readonly #pending = new Map<number, { waiting: Set<Worker>; meters: unknown[][]; done: () => void }>();

  constructor(log: Logger) {
    this.#log = log;
  }

  async scrape(workers: readonly Worker[], openMetrics: boolean): Promise<{ contentType: string; body: string }> {
    const id = this.#next++;
    const waiting = new Set(workers.filter((w) => w.isConnected()));
    const meters: unknown[][] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#log.warn({ missing: waiting.size }, 'workers did not send their meters in time; the scrape lacks them');
        resolve();
      }, SCRAPE_TIMEOUT_MS - 1000);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#pending.set(id, { waiting, meters, done });
      if (waiting.size === 0) done();
      for (const w of waiting) w.send({ [TAG]: 'meters', id } satisfies Message);
    });
    this.#pending.delete(id);
    // Loaded here: only a primary that is scraped needs the aggregator.
    const { AggregatorRegistry, Registry: Reg } = await import('prom-client');
    const registry = AggregatorRegistry.aggregate(meters.flat() as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    registry.setContentType(openMetrics ? Reg.OPENMETRICS_CONTENT_TYPE : Reg.PROMETHEUS_CONTENT_TYPE);
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  received(worker: Worker, id: number, meters: unknown[]): void {
    const pending = this.#pending.get(id);
    // Late (after the timeout) or twice: the scrape already has what it will get.
    if (pending === undefined || !pending.waiting.delete(worker)) return;
    pending.meters.push(meters);
    if (pending.waiting.size === 0) pending.done();
  }

  /** A worker that died mid-scrape will not answer: the scrape stops waiting for it. */
  gone(worker: Worker): void {
    for (const pending of this.#pending.values()) {
      if (pending.waiting.delete(worker) && pending.waiting.size === 0) pending.done();
    }
  }
}
