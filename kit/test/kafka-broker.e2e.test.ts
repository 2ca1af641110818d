// The development Kafka broker starts from the cached jars, serves Kafka's own tools and leaves nothing behind.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startKafkaBroker, type KafkaBroker } from '../src/kafka-broker/index.ts';

function accepts(bootstrap: string): Promise<boolean> {
  const [host, port] = bootstrap.split(':');
  return new Promise((resolve) => {
    const socket = connect(Number(port), host ?? '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startKafkaBroker', () => {
  let broker: KafkaBroker | undefined;
  afterAll(async () => {
    await broker?.stop();
  });

  it("serves Kafka's own topic tool on loopback, then stops and removes its temporary data", async () => {
    broker = await startKafkaBroker();
    expect(broker.bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(broker.url).toBe(`kafka://${broker.bootstrap}`);
    const admin = ['--bootstrap-server', broker.bootstrap];
    await broker.tool('org.apache.kafka.tools.TopicCommand', [
      ...admin,
      '--create',
      '--topic',
      'products',
      '--partitions',
      '2',
    ]);
    const described = await broker.tool('org.apache.kafka.tools.TopicCommand', [
      ...admin,
      '--describe',
      '--topic',
      'products',
    ]);
    expect(described).toMatch(/PartitionCount:\s*2/);
    expect(await broker.tool('org.apache.kafka.tools.TopicCommand', [...admin, '--list'])).toContain('products');
    await broker.stop();
    expect(await accepts(broker.bootstrap)).toBe(false);
    expect(existsSync(broker.dataDir)).toBe(false);
    broker = undefined;
  }, 120_000);
});
