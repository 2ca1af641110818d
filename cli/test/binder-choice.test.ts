import { describe, expect, it } from 'vitest';
import { createLogger } from '@trellis/kit';
import { chooseBinder } from '../src/binder-choice.ts';
import { landscapeEvents } from '../src/landscape-events.ts';
import { partitionScale } from '../src/up.ts';

describe('chooseBinder', () => {
  it('takes the binder named, else the broker URL’s scheme, else the embedded one', () => {
    expect(chooseBinder({})).toEqual({ kind: 'embedded', brokerUrl: undefined });
    expect(chooseBinder({ brokerUrl: 'amqps://u:p@mq:5671' })).toEqual({
      kind: 'rabbit',
      brokerUrl: 'amqps://u:p@mq:5671',
    });
    expect(chooseBinder({ brokerUrl: 'kafka://k:9092' })).toEqual({ kind: 'kafka', brokerUrl: 'kafka://k:9092' });
    expect(chooseBinder({ binder: 'kafka', brokerUrl: '' })).toEqual({ kind: 'kafka', brokerUrl: undefined });
    // Named, the embedded binder wins over a URL left in the environment.
    expect(chooseBinder({ binder: 'embedded', brokerUrl: 'amqp://mq' })).toEqual({
      kind: 'embedded',
      brokerUrl: undefined,
    });
  });

  it('refuses a URL of another broker than the one named, or of none, without echoing it', () => {
    expect(() => chooseBinder({ binder: 'kafka', brokerUrl: 'amqp://u:secret@mq' })).toThrow(
      '--binder kafka (TRELLIS_BINDER) does not match --broker-url (TRELLIS_BROKER_URL), a rabbit URL',
    );
    expect(() => chooseBinder({ brokerUrl: 'http://u:secret@mq' })).toThrow(
      /use amqp:\/\/, amqps:\/\/ \(RabbitMQ\) or kafka:\/\//,
    );
    expect(() => chooseBinder({ brokerUrl: 'http://u:secret@mq' })).not.toThrow(/secret/);
  });
});

describe('the landscape’s events', () => {
  const o = { dataDir: '/data', kafkaPort: 0, logger: createLogger({ name: 't', level: 'silent', format: 'json' }) };

  it('gives the services no broker URL on the embedded binder, the local RabbitMQ when none is given, and never shows a password', async () => {
    expect(await landscapeEvents(chooseBinder({}), o)).toEqual({
      brokerUrl: '',
      notes: ['events: embedded binder in /data/events.sqlite'],
    });
    expect((await landscapeEvents(chooseBinder({ binder: 'rabbit' }), o)).brokerUrl).toBe(
      'amqp://guest:guest@localhost:5672',
    );
    const given = await landscapeEvents(chooseBinder({ brokerUrl: 'amqp://app:s3cret@mq:5672' }), o);
    expect(given).toEqual({
      brokerUrl: 'amqp://app:s3cret@mq:5672',
      notes: ['events: RabbitMQ at amqp://app:***@mq:5672'],
    });
    expect(await landscapeEvents(chooseBinder({ brokerUrl: 'kafka://k:9092' }), o)).toEqual({
      brokerUrl: 'kafka://k:9092',
      notes: ['events: Kafka at kafka://k:9092'],
    });
  });

  it('runs as many instances of each core service present as --partitions asks, none more for 1', () => {
    const components = ['registry', 'product', 'recommendation', 'review', 'product-composite'].map((name) => ({
      name,
    }));
    expect(partitionScale(2, components)).toEqual({ product: 2, recommendation: 2, review: 2 });
    expect(partitionScale(1, components)).toEqual({});
    expect(partitionScale(undefined, components)).toEqual({});
  });
});
