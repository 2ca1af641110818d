import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonSettings, createService, defineComponent, setting } from '@trellis/kit';
import { main } from '../src/main.ts';

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

function capture() {
  let out = '';
  let err = '';
  const codes: number[] = [];
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    exit: (code: number) => void codes.push(code),
    out: () => out,
    err: () => err,
    codes,
  };
}

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

  it('runs as a command: a bad flag prints one line on stderr and exits 2', () => {
    const r = spawnSync(process.execPath, [bin, 'up', '--bogus'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('trellis: unknown flag --bogus (see --help)\n');
  });
});
