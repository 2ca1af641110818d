import { load, startServer } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

/** The service kit's own cost: actuator health and a plain JSON route (logged at info) against the bare baseline. */
export const kit: Scenario = {
  name: 'kit',
  async run(report) {
    const bare = await startServer('hono-bare.ts');
    try {
      report('bare hono GET /actuator/health', await load({ url: `${bare.url}/actuator/health` }), {
        note: 'framework alone, for reference',
      });
    } finally {
      await bare.stop();
    }
    const server = await startServer('kit-service.ts');
    try {
      report('kit GET /actuator/health', await load({ url: `${server.url}/actuator/health` }), { target: 0.8 });
      report('kit GET /hello (logged)', await load({ url: `${server.url}/hello` }), {
        note: 'request line logged at info',
      });
    } finally {
      await server.stop();
    }
  },
};
