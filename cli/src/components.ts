// Every component of the landscape, loaded at once in start order, for code that inspects them all.
// The docker-compose check reads their settings; `trellis` itself loads through the catalogue, only what it runs.
import type { Component } from '@trellis/kit';
import { catalogue, loadAll } from './catalogue.ts';

export const components: readonly Component[] = (await loadAll(catalogue)).map((loaded) => loaded.component);
