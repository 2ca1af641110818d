// The embedded binder's metrics and trace propagation (see observability-suite.ts), on a SQLite file in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createEmbeddedBinder } from '../../src/events/index.ts';
import { observabilitySuite } from './observability-suite.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'trellis-events-obs-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

observabilitySuite('embedded', (observability) =>
  Promise.resolve(
    createEmbeddedBinder({ dataDir, pollIntervalMs: 20, ...(observability === undefined ? {} : { observability }) }),
  ),
);
