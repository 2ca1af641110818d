// The JSON log destination batches lines per turn of the event loop: nothing may be lost or reordered, not even
// the lines logged right before process.exit, and not when the reader of the log pipe is slow (the pipe fills up).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/log-burst.ts', import.meta.url));

function run(bursts: number): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, String(bursts)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    // A log shipper that falls behind: nothing is read for a second, so the 64 KiB pipe fills and writes would block.
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), 1000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

describe('the JSON log destination', () => {
  it('writes every line in order, the last one logged just before process.exit included', async () => {
    const { code, stdout } = await run(50);
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { n: number; msg: string });
    expect(lines).toHaveLength(5001);
    expect(lines.map((l) => l.n)).toEqual(Array.from({ length: 5001 }, (_, i) => i));
    expect(lines.at(-1)?.msg).toBe('last');
  }, 30_000);
});
