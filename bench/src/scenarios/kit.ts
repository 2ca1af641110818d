// The service kit: actuator health and a logged JSON route against the bare baseline.
import { startServer } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

/** The service kit's own cost: actuator health and a plain JSON route (logged at info) against the bare baseline. */
export const kit: Scenario = {
  name: 'kit',
  async run({ compare }) {
    const bare = await startServer('hono-bare.ts');
    try {
      await compare(
        'bare hono GET /actuator/health',
        { url: `${bare.url}/actuator/health` },
        {
          note: 'the framework alone, for reference',
        },
      );
    } finally {
      await bare.stop();
    }
    const server = await startServer('kit-service.ts');
    try {
      await compare('kit GET /actuator/health', { url: `${server.url}/actuator/health` }, { target: 0.8 });
      await compare('kit GET /hello (logged)', { url: `${server.url}/hello` }, { note: 'request line logged at info' });
    } finally {
      await server.stop();
    }
  },
};
