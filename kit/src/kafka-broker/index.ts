// `const { bootstrap, url, tool, stop } = await startKafkaBroker()`: a real one-node Kafka for tests, bench and up.
export { startKafkaBroker } from './broker.ts';
export type { KafkaBroker, KafkaBrokerOptions } from './broker.ts';
export { defaultCacheDir, ensureKafkaJars, KAFKA_VERSION, kafkaJarsDir } from './jars.ts';
