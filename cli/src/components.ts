import { authServerComponent } from '@trellis/auth-server';
import type { Component } from '@trellis/clients';
import { configServerComponent } from '@trellis/config-server';
import { registryComponent } from '@trellis/registry';

/**
 * Every component `trellis` can start, in landscape start order (the registry first, so the others can register).
 * Each issue adds its component here.
 */
export const components: readonly Component[] = [registryComponent, configServerComponent, authServerComponent];
