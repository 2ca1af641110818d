// `trellis health`, the image's HEALTHCHECK: it finds the component from process 1's command line and probes the port
// that component reads, over HTTP or TLS, and exits as Docker expects.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commonSettings,
  createLogger,
  createService,
  defineComponent,
  freePort,
  loadSettings,
  setting,
  type Running,
} from '@trellis/kit';
import { ensureDevCertificates } from '@trellis/kit/tls';
import { entriesOf } from '../src/catalogue.ts';
import { healthCommand, trellisArgs } from '../src/health.ts';
import { main } from '../src/main.ts';
import { capture } from './helpers.ts';

let dataDir: string;

/** A real kit service on its port, over TLS with the development certificate when --tls is given. */
const probed = defineComponent({
  name: 'probed',
  summary: 'a test component',
  settings: {
    ...commonSettings(),
    port: setting.port({ flag: 'port', env: 'PROBED_PORT', default: 1, help: 'port' }),
    tls: setting.boolean({ flag: 'tls', env: 'PROBED_TLS', default: false, help: 'serve HTTPS' }),
  },
  async start(settings, { logger }) {
    const service = createService({ name: 'probed', logger, git: false });
    const tls = settings.tls ? await ensureDevCertificates({ dir: join(dataDir, 'tls') }) : undefined;
    const endpoint = await service.listen({ port: settings.port, host: '127.0.0.1', tls });
    return { name: 'probed', endpoints: [endpoint], stop: () => service.stop() };
  },
});
const entries = entriesOf([probed]);
/** A command line as /proc/<pid>/cmdline holds it: each argument NUL-terminated. */
const cmdline = (...args: string[]): string => args.map((arg) => `${arg}\0`).join('');
const logger = createLogger({ name: 'test', level: 'silent', format: 'json' });

/** Starts the component with `flags` on a free port; returns it and the port. */
async function startProbed(flags: readonly string[]): Promise<{ running: Running; port: number }> {
  const port = await freePort();
  const settings = loadSettings(probed.settings, {
    argv: ['--port', String(port), '--data-dir', dataDir, ...flags],
    env: {},
  });
  return { running: await probed.start(settings, { logger, env: {} }), port };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trellis-health-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('trellisArgs', () => {
  it("reads the component and its flags after the trellis script, as the image's entrypoint or an init runs it", () => {
    expect(
      trellisArgs(cmdline('node', '/app/node_modules/@trellis/cli/bin/trellis.js', 'registry', '--port', '9000')),
    ).toEqual(['registry', '--port', '9000']);
    expect(trellisArgs(cmdline('/sbin/docker-init', '--', 'node', '/usr/local/bin/trellis', 'gateway'))).toEqual([
      'gateway',
    ]);
  });

  it('finds nothing in a process that is not trellis', () => {
    expect(trellisArgs(cmdline('sleep', 'infinity'))).toBeUndefined();
  });
});

describe('trellis health', () => {
  it('exits 0 when the component answers on the port it reads from its variable', async () => {
    const { running, port } = await startProbed([]);
    try {
      const io = capture();
      await main(['health', 'probed'], { PROBED_PORT: String(port) }, { components: [probed], ...io });
      expect([io.codes, io.err()]).toEqual([[0], '']);
      expect(io.out()).toBe(`probed: up on port ${port}\n`);
    } finally {
      await running.stop();
    }
  });

  it("probes the component process 1 runs, with process 1's flags, over TLS when the listener serves HTTPS", async () => {
    const { running, port } = await startProbed(['--tls']);
    try {
      const io = capture();
      const commandLine = (): string =>
        cmdline('node', '/app/bin/trellis.js', 'probed', '--tls', '--port', String(port));
      await healthCommand(entries, [], {}, { ...io, commandLine });
      expect([io.codes, io.err()]).toEqual([[0], '']);
    } finally {
      await running.stop();
    }
  });

  it('exits 1 naming the port when nothing answers there', async () => {
    const port = await freePort();
    const io = capture();
    await main(['health', 'probed', '--port', String(port)], {}, { components: [probed], ...io });
    expect(io.codes).toEqual([1]);
    expect(io.err()).toMatch(new RegExp(`^trellis health: probed on port ${port}: .*ECONNREFUSED`));
  });

  it('exits 1 for a command line without a component, and for a name that is none', async () => {
    const io = capture();
    await healthCommand(entries, [], {}, { ...io, commandLine: () => cmdline('sleep', 'infinity') });
    await healthCommand(entries, ['up'], {}, io);
    expect(io.codes).toEqual([1, 1]);
    expect(io.err()).toBe(
      'trellis health: name a component: no trellis command line found on process 1\n' +
        'trellis health: "up" is no component (probed)\n',
    );
  });
});
