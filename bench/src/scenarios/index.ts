import type { Scenario } from '../scenario.ts';
import { config } from './config.ts';
import { kit } from './kit.ts';
import { registry } from './registry.ts';
import { resilience } from './resilience.ts';
import { security } from './security.ts';

/** Every benchmark scenario; each issue adds its own. */
export const scenarios: readonly Scenario[] = [kit, resilience, security, config, registry];
