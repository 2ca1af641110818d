import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { commonSettings, createService, defineComponent, setting } from '@trellis/kit';
import { main } from '../src/main.ts';
import { capture } from './helpers.ts';

const bin = fileURLToPath(new URL('../bin/trellis.js', import.meta.url));

/** A real kit component, so `trellis` runs the code path every component takes. */
const echo = defineComponent({
  name: 'echo',
  summary: 'a test component',
  settings: {
    ...commonSettings(),
    port: setting.port({ flag: 'port', env: 'ECHO_PORT', default: 0, help: 'HTTP port' }),
  },
  async start(settings, { logger }) {
    const service = createService({ name: 'echo', logger, git: false });
    const endpoint = await service.listen({ port: settings.port, host: '127.0.0.1', setting: '--port (ECHO_PORT)' });
    return { name: 'echo', endpoints: [endpoint], stop: () => service.stop() };
  },
});

/** A component with a switch that is on unless turned off; it records the settings it starts with. */
const switched: Record<string, unknown>[] = [];
const switches = defineComponent({
  name: 'switches',
  summary: 'a test component with a switch',
  settings: {
    ...commonSettings(),
    greet: setting.boolean({ flag: 'greet', env: 'SWITCHES_GREET', default: true, help: 'say hello' }),
  },
  start(settings) {
    switched.push(settings);
    return Promise.resolve({ name: 'switches', endpoints: [], stop: () => Promise.resolve() });
  },
});

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trellis-cli-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('trellis', () => {
  it('lists its commands with --help and exits 0', async () => {
    const io = capture();
    await main(['--help'], {}, { components: [echo], ...io });
    expect(io.out()).toContain('up    start the whole landscape in one process');
    expect(io.out()).toContain('echo  a test component');
    expect(io.codes).toEqual([0]);
  });

  it("shows a component's flags and variables with --help", async () => {
    const io = capture();
    await main(['echo', '--help'], {}, { components: [echo], ...io });
    expect(io.out()).toContain('--port, ECHO_PORT');
    expect(io.out()).toContain('--data-dir, TRELLIS_DATA_DIR');
    expect(io.codes).toEqual([0]);
  });

  it('answers an unknown command and a bad flag with one line and exit 2', async () => {
    const a = capture();
    await main(['nope'], {}, { components: [echo], ...a });
    expect(a.err()).toBe('trellis: unknown command "nope" (see trellis --help)\n');
    expect(a.codes).toEqual([2]);
    const b = capture();
    await main(['echo', '--port', 'x'], {}, { components: [echo], ...b });
    expect(b.err()).toBe('trellis: invalid --port: "x" is not a port number (0-65535, 0 picks a free port)\n');
    expect(b.codes).toEqual([2]);
  });

  it('exits 2 with one line when a port is in use', async () => {
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const io = capture();
      await main(
        ['echo', '--port', String(port), '--data-dir', dataDir, '--log-level', 'silent'],
        {},
        { components: [echo], ...io },
      );
      expect(io.err()).toBe(`trellis: echo: port ${port} is already in use (set with --port (ECHO_PORT))\n`);
      expect(io.codes).toEqual([2]);
    } finally {
      blocker.close();
    }
  });

  it('up starts the components, creates the local CA and prints where everything is', async () => {
    const io = capture();
    await main(['up', '--data-dir', dataDir, '--log-level', 'silent'], {}, { components: [echo], ...io });
    expect(io.codes).toEqual([]);
    expect(io.out()).toMatch(/echo {2}http:\/\/localhost:\d+/);
    expect(io.out()).toContain(`Local CA: ${join(dataDir, 'tls', 'ca.pem')}`);
    expect((await stat(join(dataDir, 'tls', 'server-key.pem'))).mode & 0o777).toBe(0o600);
    process.emit('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    expect(io.codes).toEqual([0]);
  });

  it.each([
    [['switches', '--greet=false']],
    [['switches', '--greet', 'no']],
    [['up', '--no-greet']],
    [['up', '--greet', 'false']],
  ])("turns a component's switch off over its variable: trellis %j", async (argv) => {
    const io = capture();
    const from = switched.length;
    await main(
      [...argv, '--data-dir', dataDir, '--log-level', 'silent'],
      { SWITCHES_GREET: 'true' },
      {
        components: [switches],
        ...io,
      },
    );
    expect(switched.slice(from).map((settings) => settings.greet)).toEqual([false]);
    process.emit('SIGTERM');
    await vi.waitFor(() => expect(io.codes).toEqual([0]));
  });

  it('refuses a bad switch value and --no- on a flag that takes a value: one line, exit 2, nothing started', async () => {
    const refusals = [
      [['switches', '--greet=maybe'], 'invalid --greet: "maybe" is not true or false (also yes/no, on/off, 1/0)'],
      [['up', '--greet', 'maybe'], 'invalid --greet: "maybe" is not true or false (also yes/no, on/off, 1/0)'],
      [['up', '--no-data-dir'], '--no-data-dir is refused: --data-dir takes a value, not on or off: a text'],
      [['switches', '--no-greet=yes'], '--no-greet takes no value: write --no-greet, or --greet=true or false'],
    ] as const;
    const from = switched.length;
    for (const [argv, message] of refusals) {
      const io = capture();
      await main(argv, {}, { components: [switches], ...io });
      expect([io.err(), io.codes]).toEqual([`trellis: ${message}\n`, [2]]);
    }
    expect(switched.length).toBe(from);
  });

  it('shows a switch in --help with both forms and its default', async () => {
    const io = capture();
    await main(['switches', '--help'], {}, { components: [switches], ...io });
    expect(io.out()).toMatch(/--\[no-\]greet, SWITCHES_GREET +say hello \(default: true\)/);
  });

  it.each([['--version'], ['-v'], ['version']])("prints its version and Node.js's with %s, exit 0", async (flag) => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const io = capture();
    await main([flag], {}, { components: [echo], ...io });
    expect(io.out()).toBe(`trellis ${version} (Node.js ${process.version})\n`);
    expect(io.codes).toEqual([0]);
  });

  it('runs as a command: a bad switch value of `trellis up` prints one line, no stack, and exits 2', () => {
    const r = spawnSync(process.execPath, [bin, 'up', '--seed-dev-clients=maybe'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'trellis: invalid --seed-dev-clients: "maybe" is not true or false (also yes/no, on/off, 1/0)\n',
    );
  });

  it('runs as a command: a bad flag prints one line on stderr and exits 2', () => {
    const r = spawnSync(process.execPath, [bin, 'up', '--bogus'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('trellis: unknown flag --bogus (see --help)\n');
  });
});
