// A service built with the kit as users build theirs: JSON logs at info, request ids, actuator endpoints, and the
// metrics and tracing the `--metrics` / `--tracing*` settings choose (from the environment, as `trellis` reads them).
import {
  createLogger,
  createObservability,
  createService,
  loadSettings,
  observabilityOf,
  observabilitySettings,
  runUntilSignal,
} from '@trellis/kit';

const logger = createLogger({ name: 'bench-kit', level: 'info', format: 'json' });
await runUntilSignal(
  async (started) => {
    const observability = observabilityOf(loadSettings(observabilitySettings(), { env: process.env }));
    const service = createService({
      name: 'bench-kit',
      logger,
      observability: await createObservability('bench-kit', observability),
    });
    service.app.get('/hello', (c) => c.json({ status: 'UP' }));
    const endpoint = await service.listen({ port: 0, host: '127.0.0.1' });
    started.push({ name: 'bench-kit', endpoints: [endpoint], stop: () => service.stop() });
    process.stdout.write(`ready http://127.0.0.1:${endpoint.port}\n`);
  },
  { logger },
);
