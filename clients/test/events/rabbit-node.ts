// A RabbitMQ node of the test's own (own node name, ports, data and cookie) that the test may kill and restart: the
// shared broker other suites use at the same time must never be restarted under them.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { acceptsConnections, freePort } from '@trellis/kit';

const run = promisify(execFile);

/**
 * Debian's /usr/sbin scripts switch to the rabbitmq user (and its home, so its cookie); the scripts they wrap run the
 * node as whoever calls them, with the environment given.
 */
function rabbitScript(name: string): string {
  for (const dir of ['/usr/lib/rabbitmq/bin', '/usr/local/sbin', '/opt/homebrew/sbin']) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return name;
}

export interface RabbitNode {
  /** `amqp://guest:guest@127.0.0.1:<port>` (guest may log in over loopback). */
  readonly url: string;
  readonly nodeName: string;
  /** SIGKILL to the node's whole process group (the script, beam and its helpers); resolves once it is gone. */
  kill(): Promise<void>;
  /** Starts the node again on the same data directory and port; resolves once it accepts AMQP connections. */
  start(): Promise<void>;
  /** `rabbitmqctl stop_app`: the broker closes every connection (320 CONNECTION_FORCED), the Erlang node stays. */
  stopApp(): Promise<void>;
  startApp(): Promise<void>;
  /** Kills the node and removes its data. */
  stop(): Promise<void>;
}

/** Starts a fresh node and waits until it accepts AMQP connections (about 5 s). */
export async function startRabbitNode(): Promise<RabbitNode> {
  const dir = await mkdtemp(join(tmpdir(), 'trellis-rabbit-node-'));
  await mkdir(join(dir, 'mnesia'));
  await mkdir(join(dir, 'log'));
  // No plugins (the management plugin would want the shared node's 15672), no config, no env file from /etc.
  await writeFile(join(dir, 'enabled_plugins'), '[].\n');
  const port = await freePort();
  const nodeName = `trellis-faults-${randomBytes(3).toString('hex')}@localhost`;
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RABBITMQ_'))),
    // The node writes its Erlang cookie to $HOME; rabbitmqctl reads it from there.
    HOME: dir,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(await freePort()),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
  };
  let child: ChildProcess | undefined;
  let guard: ChildProcess | undefined;
  const tail: string[] = [];

  const ctl = async (...args: string[]): Promise<void> => {
    await run(rabbitScript('rabbitmqctl'), ['-n', nodeName, ...args], { env, timeout: 60_000 });
  };

  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    guard?.kill('SIGKILL');
    guard = undefined;
    if (c?.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    process.kill(-c.pid, 'SIGKILL');
    await exited;
  };

  const start = async (): Promise<void> => {
    if (child !== undefined) throw new Error('the node is running');
    tail.length = 0;
    // Its own process group, so one signal reaches beam and not just the script that started it.
    const c = spawn(rabbitScript('rabbitmq-server'), [], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    for (const stream of [c.stdout, c.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => {
        tail.push(...text.split('\n').filter((l) => l !== ''));
        tail.splice(0, Math.max(0, tail.length - 20));
      });
    }
    // If the test process dies without stopping the node, the pipe closes and this kills the group.
    guard = spawn('sh', ['-c', `read _; kill -KILL -- -${c.pid} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'] });
    guard.unref();
    const deadline = Date.now() + 60_000;
    while (!(await acceptsConnections('127.0.0.1', port, 500))) {
      if (c.exitCode !== null || c.signalCode !== null || Date.now() > deadline) {
        await kill();
        throw new Error(`RabbitMQ node ${nodeName} did not start: ${tail.slice(-5).join(' | ')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  await start();
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    nodeName,
    kill,
    start,
    stopApp: () => ctl('stop_app'),
    startApp: () => ctl('start_app'),
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
