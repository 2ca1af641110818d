import { authServerComponent } from '@trellis/auth-server';
import type { Component } from '@trellis/kit';
import { configServerComponent } from '@trellis/config-server';
import { exampleComponents } from '@trellis/examples';
import { gatewayComponent } from '@trellis/gateway';
import { registryComponent } from '@trellis/registry';

/**
 * Every component `trellis` can start, in landscape start order: the registry first so the others can register, the
 * config server before the services that fetch their configuration, the auth server before the gateway and the
 * services that check its tokens, then the example services (core services before the composite).
 */
export const components: readonly Component[] = [
  registryComponent,
  configServerComponent,
  authServerComponent,
  gatewayComponent,
  ...exampleComponents,
];
