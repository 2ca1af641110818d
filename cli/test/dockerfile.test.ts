// No container engine runs here, so the Dockerfile is checked for what its image promises: a build stage that packs
// the published packages, a runtime stage that installs only those (no workspace install, no compiler) and runs them
// as a user other than root, with a HEALTHCHECK and the installed trellis command, and the files docker-compose.yml
// points at inside the image.
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '../..');

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** The Dockerfile's instructions: continuation lines joined, comments and the parser directive dropped. */
function instructions(text: string): Instruction[] {
  return text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [, keyword = '', args = ''] = /^\s*(\S+)\s*(.*)$/.exec(line) ?? [];
      return { keyword: keyword.toUpperCase(), args: args.replace(/\s+/g, ' ').trim() };
    });
}

/** The instructions of each stage, from its FROM on. */
function stages(all: readonly Instruction[]): Instruction[][] {
  const result: Instruction[][] = [];
  for (const instruction of all) {
    if (instruction.keyword === 'FROM') result.push([]);
    result.at(-1)?.push(instruction);
  }
  return result;
}

const argsOf = (stage: readonly Instruction[], keyword: string): string[] =>
  stage.filter((i) => i.keyword === keyword).map((i) => i.args);
/** The exec form's array of an instruction (`["node", "…"]`); undefined for the shell form. */
const execForm = (args: string): unknown => (args.startsWith('[') ? JSON.parse(args) : undefined);

const all = instructions(readFileSync(resolve(root, 'Dockerfile'), 'utf8'));
const [build = [], runtime = []] = stages(all);
const CLI = '/app/node_modules/@trellis/cli/bin/trellis.js';
const COMPILERS = /\b(apt-get|apk|python3?|make|g\+\+|gcc|build-essential|node-gyp)\b/;

describe('Dockerfile', () => {
  it('builds in two stages on node:24-bookworm-slim, the first named build', () => {
    expect(stages(all).map((stage) => stage[0]?.args)).toEqual([
      'node:24-bookworm-slim AS build',
      'node:24-bookworm-slim',
    ]);
  });

  it('installs the workspace from every workspace manifest before the sources come in, then packs the packages', () => {
    const { workspaces } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { workspaces: string[] };
    const ci = build.findIndex((i) => i.keyword === 'RUN' && /^npm ci\b/.test(i.args));
    const sources = build.findIndex((i) => i.keyword === 'COPY' && i.args === '. .');
    expect([ci > 0, sources > ci]).toEqual([true, true]);
    const manifests = argsOf(build.slice(0, ci), 'COPY');
    expect(manifests).toContain('package.json package-lock.json ./');
    for (const dir of workspaces) expect(manifests).toContain(`${dir}/package.json ${dir}/`);
    expect(argsOf(build.slice(sources), 'RUN')).toContain('node tools/pack.mjs /packs');
  });

  it("installs only the build stage's tarballs with production dependencies, no workspace and no compiler", () => {
    const runs = argsOf(runtime, 'RUN');
    expect(runs.filter((run) => /\bnpm ci\b/.test(run))).toEqual([]);
    expect(runs.filter((run) => COMPILERS.test(run))).toEqual([]);
    const install = runs.find((run) => /\bnpm install\b/.test(run)) ?? '';
    expect(install).toMatch(/--mount=type=bind,from=build,source=\/packs,target=\/packs/);
    expect(install).toMatch(/npm install --omit=dev [^&]*\/packs\/\*\.tgz/);
    // In the same layer, or the cache ships in the image.
    expect(install).toMatch(/npm cache clean --force/);
    expect(argsOf(runtime, 'COPY').filter((args) => /--from|^\. /.test(args))).toEqual([]);
  });

  it('runs as a user other than root, with /data its own, in production', () => {
    const user = argsOf(runtime, 'USER').at(-1);
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user?.split(':')[0]);
    expect(argsOf(runtime, 'RUN').join(' ')).toMatch(new RegExp(`chown ${user}:${user} /data\\b`));
    expect(argsOf(runtime, 'ENV').join(' ')).toMatch(/\bNODE_ENV=production\b/);
  });

  it('starts the installed trellis command, and probes with it the component the container runs', () => {
    expect(argsOf(runtime, 'ENTRYPOINT').map(execForm)).toEqual([['node', CLI]]);
    const [healthcheck = ''] = argsOf(runtime, 'HEALTHCHECK');
    const command = /\bCMD (\[.*\])$/.exec(healthcheck)?.[1] ?? 'none';
    expect(execForm(command)).toEqual(['node', CLI, 'health']);
  });

  it("holds every file docker-compose.yml points at under /app, copied from the repository's", () => {
    const copies = argsOf(runtime, 'COPY').map((args) => args.split(' ') as [string, string]);
    const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    const paths = Object.values(compose.services).flatMap((s) =>
      Object.values(s.environment ?? {}).filter((v) => v.startsWith('/app/')),
    );
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) {
      const copy = copies.find(([, target]) => path === target || path.startsWith(`${target}/`));
      expect(copy, path).toBeDefined();
      const [source = '', target = ''] = copy ?? [];
      expect(existsSync(resolve(root, source, relative(target, path))), path).toBe(true);
    }
  });
});

describe('.dockerignore', () => {
  it('keeps installs, builds, local state and history out of the build context, but not what the image copies', () => {
    const ignored = readFileSync(resolve(root, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '**/data', '.git', 'bench/results']));
    for (const needed of ['config-repo', 'tools', 'package.json', 'package-lock.json']) {
      expect(ignored.filter((pattern) => pattern === needed || needed.startsWith(`${pattern}/`))).toEqual([]);
    }
  });
});
