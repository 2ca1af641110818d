// The list of scenarios `npm run bench` knows, in the order it runs them.
import type { Scenario } from '../scenario.ts';
import { authPostgres } from './auth-postgres.ts';
import { config } from './config.ts';
import { events } from './events.ts';
import { gateway } from './gateway.ts';
import { footprint } from './footprint.ts';
import { kafka } from './kafka.ts';
import { kit } from './kit.ts';
import { landscape } from './landscape.ts';
import { observability } from './observability.ts';
import { peers } from './peers.ts';
import { registry } from './registry.ts';
import { resilience } from './resilience.ts';
import { security } from './security.ts';
import { soak } from './soak.ts';
import { startup } from './startup.ts';
import { workers } from './workers.ts';

/** Every benchmark scenario; each issue adds its own. */
export const scenarios: readonly Scenario[] = [
  kit,
  observability,
  footprint,
  startup,
  resilience,
  security,
  authPostgres,
  config,
  registry,
  gateway,
  workers,
  events,
  kafka,
  landscape,
  peers,
  soak,
];
