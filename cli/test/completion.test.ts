// `trellis completion bash`: the script bash loads offers the commands and each one's flags, as their settings declare.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.ts';
import { capture } from './helpers.ts';

let dir: string;
let script: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-completion-'));
  const io = capture();
  await main(['completion', 'bash'], {}, io);
  expect(io.codes).toEqual([0]);
  script = join(dir, 'trellis.bash');
  await writeFile(script, io.out());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What bash offers, with the script loaded, when Tab is pressed after `words` (the last one being completed). */
function complete(...words: string[]): string[] {
  const run = spawnSync(
    'bash',
    [
      '-c',
      'source "$0"; COMP_WORDS=("${@}"); COMP_CWORD=$(( $# - 1 )); _trellis; printf "%s\\n" "${COMPREPLY[@]}"',
      script,
      'trellis',
      ...words,
    ],
    { encoding: 'utf8' },
  );
  expect(run.stderr).toBe('');
  return run.stdout.split('\n').filter(Boolean);
}

describe('trellis completion bash', () => {
  it('offers the commands first', () => {
    expect(complete('re')).toEqual(['registry', 'recommendation', 'review']);
    expect(complete('--ver')).toEqual(['--version']);
  });

  it("offers a component's flags, a switch with its --no- form", () => {
    expect(complete('gateway', '--http')).toEqual(['--https-port', '--http-only']);
    expect(complete('gateway', '--no-http')).toEqual(['--no-http-only']);
  });

  it("offers trellis up its own flags and the components' own, but not a flag several components share", () => {
    expect(complete('up', '--no-se')).toEqual(['--no-seed-dev-clients']);
    expect(complete('up', '--sc')).toEqual(['--scale']);
    expect(complete('up', '--po')).toEqual([]);
  });

  it("offers the admin commands' flags, every events command's together", () => {
    expect(complete('events', 'tail', 'orders', '--fr')).toEqual(['--from-beginning']);
    expect(complete('events', '--li')).toEqual(['--limit']);
    expect(complete('clients', 'add', 'x', '--pu')).toEqual(['--public']);
  });

  it('leaves a word that is no flag to file names', () => {
    expect(complete('up', '--data-dir', 'da')).toEqual([]);
  });

  it('refuses another shell, or none, with one line and exit 2', async () => {
    for (const argv of [['completion'], ['completion', 'zsh']]) {
      const io = capture();
      await main(argv, {}, io);
      expect([io.err(), io.codes]).toEqual([
        'trellis: completion knows one shell, bash: source <(trellis completion bash)\n',
        [2],
      ]);
    }
  });
});
