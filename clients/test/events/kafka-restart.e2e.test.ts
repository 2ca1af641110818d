// The Kafka binder across a real broker restart (same data and ports), in its own file: its two broker starts then
// run beside kafka.e2e.test.ts instead of after it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startKafkaBroker } from '@trellis/kit/kafka-broker';
import { createKafkaBinder } from '../../src/events/index.ts';
import { waitFor } from './helpers.ts';
import { freePort } from '../../../kit/src/free-port.ts';

describe('kafka binder across a broker restart', () => {
  it('reports DOWN while the broker is away, holds a send until it is back, and goes on consuming', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'trellis-kafka-restart-'));
    const options = { dataDir, port: await freePort(), controllerPort: await freePort() };
    let own = await startKafkaBroker(options);
    const binder = await createKafkaBinder({ brokers: own.url, publishTimeoutMs: 60_000 });
    const got: number[] = [];
    try {
      await binder.consume<{ n: number }>({
        destination: 'restart',
        group: 'g',
        handler: (m) => void got.push(m.payload.n),
      });
      const producer = await binder.producer<{ n: number }>({ destination: 'restart' });
      await producer.send({ n: 1 });
      await waitFor(() => got.length === 1, 10_000, 'the first event');
      await own.stop();
      expect((await binder.health()).status).toBe('DOWN');
      const sending = producer.send({ n: 2 });
      own = await startKafkaBroker(options);
      await sending;
      await waitFor(() => got.includes(2), 60_000, 'the event sent while the broker was away');
      expect((await binder.health()).status).toBe('UP');
    } finally {
      await binder.close();
      await own.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
