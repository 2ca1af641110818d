// The event broker of `trellis up`: the broker URL its services get for the binder chosen, and the Kafka broker it
// starts itself (from @trellis/kit/kafka-broker) when Kafka is asked for without a broker URL.
import { join } from 'node:path';
import type { Logger, Running } from '@trellis/kit';
import { LOCAL_BROKER_URLS, type ChosenBinder } from './binder-choice.ts';

export interface LandscapeEvents {
  /** TRELLIS_BROKER_URL for every service: '' (unset) for the embedded binder. */
  readonly brokerUrl: string;
  /** Where the events go, for the start-up summary. */
  readonly notes: readonly string[];
  /** The broker `trellis up` started, to stop with the landscape. */
  readonly broker?: Running;
}

export interface LandscapeEventsOptions {
  readonly dataDir: string;
  /** The port of a Kafka broker started here: 9092, where Kafka's tools look by default; 0 picks a free one. */
  readonly kafkaPort: number;
  readonly logger: Logger;
}

/** A broker URL without its password, for the summary. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.href.replace(/\/$/, '');
  } catch {
    return url;
  }
}

async function startKafka(o: LandscapeEventsOptions): Promise<LandscapeEvents> {
  const { startKafkaBroker } = await import('@trellis/kit/kafka-broker');
  const dataDir = join(o.dataDir, 'kafka');
  o.logger.info({ port: o.kafkaPort, dataDir }, 'starting the Kafka broker');
  // Port 0 is the broker module's default: a free port, found before the broker is configured with it.
  const broker = await startKafkaBroker({ dataDir, ...(o.kafkaPort === 0 ? {} : { port: o.kafkaPort }) });
  return {
    brokerUrl: broker.url,
    notes: [
      `events: Kafka broker ${broker.url} started for this landscape (data in ${dataDir}); trellis events topics --broker-url ${broker.url}`,
      `events: Kafka's own tools: java -cp '${join(broker.lib, '*')}' org.apache.kafka.tools.TopicCommand --bootstrap-server ${broker.bootstrap} --list`,
    ],
    broker: { name: 'kafka', endpoints: [], stop: () => broker.stop() },
  };
}

/**
 * The landscape's events: the embedded binder in the data directory, RabbitMQ (the given URL, or the local one), or
 * Kafka (the given URL, or a broker started here).
 *
 * @example
 * const events = await landscapeEvents(chooseBinder({ binder: 'kafka' }), { dataDir: './data', kafkaPort: 9092, logger });
 * // events.brokerUrl === 'kafka://127.0.0.1:9092'; events.broker stops it
 */
export async function landscapeEvents(chosen: ChosenBinder, o: LandscapeEventsOptions): Promise<LandscapeEvents> {
  switch (chosen.kind) {
    case 'embedded':
      return { brokerUrl: '', notes: [`events: embedded binder in ${join(o.dataDir, 'events.sqlite')}`] };
    case 'rabbit': {
      const url = chosen.brokerUrl ?? LOCAL_BROKER_URLS.rabbit;
      return { brokerUrl: url, notes: [`events: RabbitMQ at ${shown(url)}`] };
    }
    case 'kafka':
      if (chosen.brokerUrl !== undefined) {
        return { brokerUrl: chosen.brokerUrl, notes: [`events: Kafka at ${shown(chosen.brokerUrl)}`] };
      }
      return await startKafka(o);
  }
}
