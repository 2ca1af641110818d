// `trellis setup` on a machine that lacks everything (a PATH with node alone) and on this one, which has it all.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../../kit/src/free-port.ts';
import { main } from '../src/main.ts';
import { setupCommand } from '../src/setup.ts';

const bare = mkdtempSync(join(tmpdir(), 'trellis-setup-'));
symlinkSync(process.execPath, join(bare, 'node'));
afterAll(() => rmSync(bare, { recursive: true, force: true }));

async function setup(argv: string[], env: Record<string, string | undefined>, systemDirs?: string[]) {
  let err = '';
  const code = await setupCommand(argv, env, { stderr: { write: (t: string) => (err += t) }, systemDirs });
  return { code, lines: err.split('\n').filter((l) => l !== '') };
}

describe('trellis setup', () => {
  it('where it cannot install, names each missing program with the command that installs it, and fails', async () => {
    const { code, lines } = await setup([], { PATH: bare, HOME: bare }, []);
    expect(code).toBe(1);
    expect(lines).toEqual([
      "setup: missing git (the config server's git backend): sudo apt-get install -y git",
      'setup: missing chromium (the browser tests (playwright-core drives Debian’s Chromium)): sudo apt-get install -y chromium',
      'setup: missing rabbitmq-server (the events tests on RabbitMQ): sudo apt-get install -y rabbitmq-server',
      "setup: missing redis-server (the gateway's shared rate limiter): sudo apt-get install -y redis-server",
      'setup: missing javac (the Kafka broker, Zipkin and the Spring Boot interop apps): sudo apt-get install -y default-jdk-headless',
      "setup: missing mvn (Kafka's and Spring's jars from Maven Central): sudo apt-get install -y maven",
      'setup: missing python3 (schemathesis, the API fuzzer (from PyPI, in its own venv)): sudo apt-get install -y python3-venv',
      "setup: missing nft (the registry's fault tests drop packets on a peer's link): sudo apt-get install -y nftables",
      'setup: missing prometheus (the metrics tests scrape the landscape with a real Prometheus): sudo apt-get install -y prometheus',
      'setup: nothing was tested; fix the lines above and run npm test again',
    ]);
  });

  it('with --check installs nothing, even as root with apt-get at hand', async () => {
    const { code, lines } = await setup(['--check'], { PATH: bare }, []);
    expect(code).toBe(1);
    expect(lines.some((l) => l.startsWith('setup: installing'))).toBe(false);
    expect(lines).toContain(
      "setup: missing mvn (Kafka's and Spring's jars from Maven Central): sudo apt-get install -y maven",
    );
  });

  it('says where the RabbitMQ it was told to use does not answer', async () => {
    const port = await freePort();
    const { code, lines } = await setup(['--check'], {
      ...process.env,
      TRELLIS_TEST_BROKER_URL: `amqp://guest:guest@127.0.0.1:${port}`,
    });
    expect(code).toBe(1);
    expect(lines[0]).toBe(`setup: no RabbitMQ answers at 127.0.0.1:${port} (TRELLIS_TEST_BROKER_URL)`);
  });

  it('with --check, names a supported Node.js build that is not fetched yet', async () => {
    // The builds live under the home directory's cache; an empty home has none (this machine has the programs).
    vi.stubEnv('HOME', bare);
    try {
      const { code, lines } = await setup(['--check'], process.env);
      expect(code).toBe(1);
      expect(lines).toEqual([
        'setup: Node.js 22 is not fetched yet: npm test (or trellis setup) does',
        'setup: nothing was tested; fix the lines above and run npm test again',
      ]);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('finds everything on a machine npm test has set up, and installs nothing the second time', async () => {
    const { code, lines } = await setup(['--check'], process.env);
    expect(lines.at(-1)).toMatch(/^setup: ready for the tests \(\d+\.\d s\)$/);
    expect(lines).toHaveLength(1);
    expect(code).toBe(0);
  });

  it('through the trellis command, refuses a flag it does not know with exit 2 and its usage', async () => {
    let err = '';
    const codes: number[] = [];
    await main(['setup', '--install-everything'], process.env, {
      stderr: { write: (t: string) => (err += t) },
      exit: (code) => void codes.push(code),
    });
    expect(codes).toEqual([2]);
    expect(err).toMatch(/^trellis: unknown setup flag "--install-everything"\nUsage: trellis setup \[--check\]/);
  });
});
