// A single-node Kafka broker (KRaft, broker and controller in one JVM) on loopback, run from the cached jars.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StartupError } from '../errors.ts';
import { freePort } from '../free-port.ts';
import { keepOutput, own } from '../owned-process.ts';
import { defaultCacheDir, ensureKafkaJars } from './jars.ts';

export interface KafkaBrokerOptions {
  /** The client (PLAINTEXT) port. Default: a free port. */
  readonly port?: number;
  /** The KRaft controller port. Default: a free port. */
  readonly controllerPort?: number;
  /**
   * Where the broker keeps its log and the files below it; formatted on first use and kept, so topics and offsets
   * survive a restart. Default: a temporary directory removed by `stop()`.
   */
  readonly dataDir?: string;
  /** Where the jars are cached. Default `~/.cache/trellis`. */
  readonly cacheDir?: string;
  /** Maximum JVM heap. Default 512 MB. */
  readonly heapMb?: number;
  /** How long to wait for "Kafka Server started". Default 60 s (it takes about 5–11 s). */
  readonly startTimeoutMs?: number;
  /** Broker properties added to (or replacing) the generated ones, e.g. `{ 'num.partitions': '2' }`. */
  readonly properties?: Readonly<Record<string, string>>;
}

export interface KafkaBroker {
  /** `127.0.0.1:<port>`, for a client's bootstrap servers. */
  readonly bootstrap: string;
  /** `kafka://127.0.0.1:<port>`, the broker URL the events binder takes. */
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  /** The jars, for Kafka's own tools by hand: `java -cp '<lib>/*' org.apache.kafka.tools.TopicCommand …`. */
  readonly lib: string;
  /**
   * Runs one of Kafka's tools (the classes behind its shell scripts) against this broker and answers its stdout.
   *
   * @example
   * await broker.tool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', broker.bootstrap, '--list']);
   */
  tool(mainClass: string, args: readonly string[]): Promise<string>;
  /** Stops the broker (SIGTERM, then SIGKILL after 15 s) and removes a temporary data directory. */
  stop(): Promise<void>;
}

const STARTED = /Kafka Server started/;
// Logs go to stderr, so a tool's stdout carries only its answer (ConsoleConsumer's messages, TopicCommand's list).
const LOG4J = `status = warn
appender.out.type = Console
appender.out.name = out
appender.out.target = SYSTEM_ERR
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
`;

/** Kafka's Uuid text form: 16 random bytes in base64url; Kafka itself never hands out one starting with '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(
  dataDir: string,
  port: number,
  controllerPort: number,
  extra: Record<string, string>,
): string {
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(dataDir, 'log'),
    // One node: internal topics cannot have more replicas than that.
    'offsets.topic.replication.factor': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    // Fewer internal partitions than the default 50: the first group then starts in well under a second.
    'offsets.topic.num.partitions': '4',
    'transaction.state.log.num.partitions': '4',
    // A group's first member starts at once instead of waiting 3 s for others.
    'group.initial.rebalance.delay.ms': '0',
    ...extra,
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

async function java(lib: string, args: readonly string[], log4j: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(
      'java',
      ['-cp', join(lib, '*'), `-Dlog4j2.configurationFile=${log4j}`, ...args],
      { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
    );
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new StartupError('the Kafka broker needs a JDK (17 or later) on the PATH');
    throw new StartupError(
      `${args[0] ?? 'java'} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' | ')}`,
      {
        cause: err,
      },
    );
  }
}

/** Resolves when the broker logs that it started; rejects with its last lines if it exits or takes too long. */
function started(child: ChildProcess, timeoutMs: number): Promise<void> {
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    function fail(why: string): void {
      clearTimeout(timer);
      reject(new StartupError(`the Kafka broker ${why}: ${tail.slice(-5).join(' | ')}`));
    }
    keepOutput(child, tail, (line) => {
      if (STARTED.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? `code ${code}`}) before it started`));
  });
}

/**
 * Starts a single-node Kafka broker (KRaft) bound to 127.0.0.1, fetching its jars from Maven Central the first time,
 * and resolves once it serves clients (about 5–11 s). Needs a JDK 17+ and Maven; nothing is containerised.
 *
 * @example
 * const broker = await startKafkaBroker();
 * const binder = await createEventBinder({ brokerUrl: broker.url, dataDir, logger });
 * // …
 * await broker.stop();
 */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const lib = await ensureKafkaJars(options.cacheDir ?? defaultCacheDir());
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'trellis-kafka-')));
  await mkdir(dataDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const controllerPort = options.controllerPort ?? (await freePort());
  const config = join(dataDir, 'server.properties');
  const log4j = join(dataDir, 'log4j2.properties');
  await writeFile(config, serverProperties(dataDir, port, controllerPort, { ...options.properties }));
  await writeFile(log4j, LOG4J);
  // Formatting is once per data directory; the ports may change between starts, the cluster id may not.
  if (!existsSync(join(dataDir, 'log', 'meta.properties'))) {
    await java(lib, ['kafka.tools.StorageTool', 'format', '-c', config, '-t', clusterId()], log4j);
  }
  const heap = options.heapMb ?? 512;
  const child = spawn(
    'java',
    [
      `-Xms${Math.min(256, heap)}m`,
      `-Xmx${heap}m`,
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${log4j}`,
      '-cp',
      join(lib, '*'),
      'kafka.Kafka',
      config,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stopChild = own(child);
  const stop = async (): Promise<void> => {
    await stopChild();
    if (temporary) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await started(child, options.startTimeoutMs ?? 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const bootstrap = `127.0.0.1:${port}`;
  return {
    bootstrap,
    url: `kafka://${bootstrap}`,
    pid: child.pid ?? 0,
    dataDir,
    lib,
    tool: (mainClass, args) => java(lib, [mainClass, ...args], log4j),
    stop,
  };
}
