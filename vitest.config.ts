import { availableParallelism } from 'node:os';
import type { Reporter, TestModule } from 'vitest/node';
import { configDefaults, defineConfig } from 'vitest/config';

/** Ends the run with a plain `N passed, N failed, N skipped` line that any CI log reader understands. */
const closingLine: Reporter = {
  onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
    }
    process.stdout.write(`\nvitest: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  },
};

/**
 * Files that assert a latency or a time budget (a landscape up within 5 s, a change heard within 200 ms, a regex
 * refused within 100 ms). They run first, one at a time, so their budgets measure our code and not the JVMs and
 * brokers the other files start.
 */
const TIMED = [
  'clients/test/config/client.e2e.test.ts',
  'clients/test/discovery/registry.e2e.test.ts',
  'clients/test/http/sse.test.ts',
  'clients/test/resilience/time-limiter.e2e.test.ts',
  'config-server/test/watch.e2e.test.ts',
  'examples/test/landscape.e2e.test.ts',
  'gateway/test/routing/safe-regex.test.ts',
];

/**
 * Most files spend their time waiting on sockets, brokers and JVMs (one worker keeps one core ~70 % busy), so they
 * overlap well beyond the core count: two workers a core (vitest's default is one fewer than the cores, which on
 * two cores runs the suite one file at a time). Capped, as each file may start a JVM.
 */
const WORKERS = Math.min(8, 2 * availableParallelism());

/** The packages' TypeScript sources, not their built dist/ (see the exports in each package.json). */
const SOURCE_CONDITIONS = ['@trellis/source', 'node', 'development|production'];

export default defineConfig({
  ssr: { resolve: { conditions: SOURCE_CONDITIONS, externalConditions: ['@trellis/source'] } },
  test: {
    // Socket and interop tests start real servers; give them room on a 2-core machine.
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default', closingLine],
    projects: [
      {
        extends: true,
        test: { name: 'timed', include: TIMED, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['*/test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...TIMED],
          maxWorkers: WORKERS,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
