import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HealthRegistry } from '@trellis/kit';
import { createEmbeddedBinder, registerBinderHealth, type EventBinder } from '../../src/events/index.ts';
import { binderSemantics } from './semantics.ts';
import { uniqueName, waitFor } from './helpers.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'trellis-events-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

// Each fixture opens its own connection to the same file, as separate processes would.
const open = (): EventBinder => createEmbeddedBinder({ dataDir, pollIntervalMs: 20 });

binderSemantics(
  'embedded',
  () => {
    const binder = open();
    const publishRaw = (destination: string, routingKey: string, body: Buffer): Promise<void> => {
      (binder as unknown as { publish(d: string, k: string, h: object, b: Buffer): void }).publish(
        destination,
        routingKey,
        {},
        body,
      );
      return Promise.resolve();
    };
    return Promise.resolve({ binder, publishRaw });
  },
  [],
);

describe('embedded binder', () => {
  it('keeps messages in the file across a restart, and redelivers what a crashed consumer held', async () => {
    const d = uniqueName('durable');
    const first = createEmbeddedBinder({ dataDir, leaseMs: 200, pollIntervalMs: 20 });
    const producer = await first.producer<{ n: number }>({ destination: d, requiredGroups: ['g'] });
    await producer.send({ n: 1 });
    await producer.send({ n: 2 });
    // A consumer that never finishes stands for a process that died holding a message.
    let held = 0;
    await first.consume<{ n: number }>({ destination: d, group: 'g', handler: () => new Promise(() => void held++) });
    await waitFor(() => held === 1, 5000, 'the held message');
    const second = createEmbeddedBinder({ dataDir, leaseMs: 200, pollIntervalMs: 20 });
    const got: { n: number; redelivered: boolean }[] = [];
    await second.consume<{ n: number }>({
      destination: d,
      group: 'g',
      handler: (m) => void got.push({ n: m.payload.n, redelivered: m.redelivered }),
    });
    await waitFor(() => got.length === 1, 5000, 'the free message');
    expect(got[0]).toEqual({ n: 2, redelivered: false });
    // Stop renewing the first consumer's lease without settling its message, as a crash would.
    (first as unknown as { renew(): void }).renew = () => undefined;
    await waitFor(() => got.length === 2, 5000, 'the redelivery after the lease ran out');
    expect(got[1]).toEqual({ n: 1, redelivered: true });
    await second.close();
  });

  it('keeps what a destination got for the retention, so a tail re-reads it from the start, and drops it after', async () => {
    const d = uniqueName('log');
    const read = async (binder: EventBinder): Promise<string[]> => {
      const payloads: string[] = [];
      for await (const m of binder.inspect?.tail(d, { fromBeginning: true, timeoutMs: 200 }) ?? []) {
        payloads.push(m.payload);
      }
      return payloads;
    };
    const writer = createEmbeddedBinder({ dataDir, pollIntervalMs: 20, retentionMs: 60_000 });
    const producer = await writer.producer<{ n: number }>({ destination: d });
    // Nobody consumes: on RabbitMQ these would be gone; the log has them.
    for (const n of [1, 2]) await producer.send({ n });
    expect(await read(writer)).toEqual(['{"n":1}', '{"n":2}']);
    await writer.close();
    await new Promise((r) => setTimeout(r, 20));
    // Opening the file with a shorter retention prunes what is older.
    const later = createEmbeddedBinder({ dataDir, pollIntervalMs: 20, retentionMs: 10 });
    await expect(read(later)).rejects.toMatchObject({ code: 'not_found' });
    await later.close();
  });

  it('reports UP on readiness while the file is open and DOWN once closed', async () => {
    const binder = open();
    const health = new HealthRegistry();
    registerBinderHealth(health, binder);
    expect(await health.check('readiness')).toMatchObject({
      status: 'UP',
      components: { binders: { details: { binder: 'embedded' } } },
    });
    await binder.close();
    expect((await health.check('readiness')).status).toBe('DOWN');
    expect((await health.check('liveness')).components).toEqual({});
  });
});
