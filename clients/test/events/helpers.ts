import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { connect } from 'amqplib';

export const BROKER = process.env.TRELLIS_TEST_BROKER_URL ?? 'amqp://guest:guest@localhost:5672';

const run = promisify(execFile);

/** A destination name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Reads the broker's own view with rabbitmqctl, so name checks do not trust our code's idea of the names. */
export async function rabbitctl<T>(...args: string[]): Promise<T[]> {
  const { stdout } = await run('rabbitmqctl', [...args, '--formatter', 'json', '-q'], { timeout: 20_000 });
  return JSON.parse(stdout) as T[];
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Deletes a test's exchanges and queues on the broker (DLX itself is Spring's shared exchange and stays). */
export async function cleanupBroker(destinations: readonly string[]): Promise<void> {
  if (destinations.length === 0) return;
  const queues = await rabbitctl<{ name: string }>('list_queues', 'name');
  const conn = await connect(BROKER);
  try {
    const ch = await conn.createChannel();
    for (const d of destinations) {
      for (const q of queues) if (q.name === d || q.name.startsWith(`${d}.`)) await ch.deleteQueue(q.name);
      await ch.deleteExchange(d);
    }
    await ch.close();
  } finally {
    await conn.close();
  }
}
