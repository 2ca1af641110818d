import { mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createGitBackend, type GitBackend } from '../../src/backends/git.ts';
import type { BackendChange } from '../../src/backends/types.ts';
import { ConfigServerError } from '../../src/errors.ts';
import { GIT_ENV, gitIn, silentLogger, type EnvJson } from '../helpers.ts';

/** A work-tree repository standing in for the remote. */
function remoteRepo(branch = 'main') {
  const root = mkdtempSync(join(tmpdir(), 'config-git-remote-'));
  const git = gitIn(root);
  git('init', '--quiet', '-b', branch);
  const commit = (files: Record<string, string>, message: string): string => {
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, rel)), { recursive: true });
      writeFileSync(join(root, rel), text);
    }
    git('add', '-A');
    git('commit', '--quiet', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  return { root, git, commit };
}

const remote = remoteRepo();
const data = mkdtempSync(join(tmpdir(), 'config-git-data-'));
const first = remote.commit(
  {
    'application.yml': 'shared: app\n',
    'product.yml': 'port: 7001\ngreeting: hello\n',
    'product-docker.yml': 'port: 8080\n',
    'config/product/product.yml': 'nested: from-search-path\n',
    'notes.txt': 'plain ${greeting}\n',
  },
  'first',
);
remote.git('tag', '-a', 'v1', '-m', 'release 1');
remote.git('checkout', '--quiet', '-b', 'feature/x');
const featureCommit = remote.commit({ 'product.yml': 'port: 7002\ngreeting: feature\n' }, 'feature');
remote.git('checkout', '--quiet', 'main');
const second = remote.commit({ 'product.yml': 'port: 7001\ngreeting: hi\n' }, 'second');

let backend: GitBackend;
let app: ReturnType<typeof createApp>;
const json = async (path: string): Promise<EnvJson> => {
  const res = await app.request(path);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as EnvJson;
};
const greeting = (env: EnvJson): unknown => env.propertySources.find((s) => 'greeting' in s.source)?.source.greeting;

beforeAll(async () => {
  backend = createGitBackend({
    uri: remote.root,
    baseDir: join(data, 'config-git'),
    defaultLabel: 'main',
    searchPaths: ['config/{application}'],
    // Long enough that the tests decide when fetches happen, through refresh().
    refreshMs: 60_000,
    env: GIT_ENV,
  });
  await backend.start();
  // The repositories' fetch errors are health details.
  app = createApp({ logger: silentLogger(), backend, healthShowDetails: 'always' });
});
afterAll(async () => {
  await backend.close();
  rmSync(remote.root, { recursive: true, force: true });
  rmSync(data, { recursive: true, force: true });
});

describe('git backend: labels', () => {
  it('serves the default branch with version = its commit id and sources named after the repository', async () => {
    const env = await json('/product/docker');
    expect(env.label).toBe('main');
    expect(env.version).toBe(second);
    expect(env.propertySources.map((s) => s.name)).toEqual([
      `file:${remote.root}/product-docker.yml`,
      `file:${remote.root}/config/product/product.yml`,
      `file:${remote.root}/product.yml`,
      `file:${remote.root}/application.yml`,
    ]);
    expect(greeting(env)).toBe('hi');
  });

  it('serves a branch, an annotated tag and a commit id, each at its own commit', async () => {
    const branch = await json('/product/default/feature(_)x');
    expect([branch.label, branch.version, greeting(branch)]).toEqual(['feature/x', featureCommit, 'feature']);
    const tag = await json('/product/default/v1');
    expect([tag.version, greeting(tag)]).toEqual([first, 'hello']);
    const byId = await json(`/product/default/${first.slice(0, 10)}`);
    expect([byId.version, greeting(byId)]).toEqual([first, 'hello']);
  });

  it('serves several labels at once without a work tree to fight over', async () => {
    const labels = ['main', 'v1', 'feature(_)x', first, 'main', 'v1'];
    const envs = await Promise.all(labels.map((l) => json(`/product/default/${l}`)));
    expect(envs.map(greeting)).toEqual(['hi', 'hello', 'feature', 'hello', 'hi', 'hello']);
  });

  it('answers 404 for an unknown label and 400 for traversal or rev-parse expressions', async () => {
    expect((await app.request('/product/default/nope')).status).toBe(404);
    expect((await app.request('/product/default/deadbeefdeadbeef')).status).toBe(404);
    expect((await app.request('/product/default/..%2F..%2Fetc')).status).toBe(400);
    for (const label of ['main^', 'main~1', '-p', 'HEAD@{1}', 'main:product.yml']) {
      const res = await app.request(`/product/default/${encodeURIComponent(label)}`);
      expect(res.status, label).toBe(400);
    }
    await expect(backend.findOne({ applications: ['product'], profiles: ['default'], label: '../x' })).rejects.toThrow(
      ConfigServerError,
    );
  });

  it('serves plain resources from a label, placeholders resolved', async () => {
    const res = await app.request('/product/default/v1/notes.txt');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('plain hello\n');
    expect((await app.request('/product/default/main/missing.txt')).status).toBe(404);
  });

  it('falls back to master when the repository has no main branch', async () => {
    const legacy = remoteRepo('master');
    const commit = legacy.commit({ 'product.yml': 'old: true\n' }, 'legacy');
    const other = createGitBackend({
      uri: legacy.root,
      baseDir: join(data, 'config-git'),
      defaultLabel: 'main',
      env: GIT_ENV,
    });
    try {
      await other.start();
      const env = await other.findOne({ applications: ['product'], profiles: ['default'] });
      expect([env.label, env.version]).toEqual(['master', commit]);
    } finally {
      await other.close();
      rmSync(legacy.root, { recursive: true, force: true });
    }
  });
});

describe('git backend: background fetch', () => {
  it('picks up a new commit on refresh and fires the watch stream with the changed keys', async () => {
    const res = await app.request('/watch/product/default');
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const nextEvent = async (): Promise<string> => {
      for (;;) {
        const end = text.indexOf('\n\n');
        if (end !== -1) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          if (block.startsWith('event:')) return block;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        text += decoder.decode(value, { stream: true });
      }
    };
    expect(await nextEvent()).toContain('event: ready');

    const changes: BackendChange[] = [];
    const off = backend.subscribe((c) => changes.push(c));
    const third = remote.commit({ 'product.yml': 'port: 7001\ngreeting: hey\n' }, 'third');
    // Not fetched yet: requests never wait for the remote.
    expect((await json('/product/default')).version).toBe(second);
    await backend.refresh();
    off();

    expect(changes).toEqual([{ paths: ['product.yml'] }]);
    const change = await nextEvent();
    expect(change).toContain('event: change');
    expect(JSON.parse(/^data: (.*)$/m.exec(change)?.[1] ?? '{}')).toEqual({ version: third, changed: ['greeting'] });
    expect(greeting(await json('/product/default'))).toBe('hey');
    await reader.cancel();
  });

  it('fetches on its own at the refresh interval', async () => {
    const fast = createGitBackend({
      uri: remote.root,
      baseDir: join(data, 'config-git-fast'),
      defaultLabel: 'main',
      refreshMs: 100,
      env: GIT_ENV,
    });
    try {
      await fast.start();
      const heard = new Promise<BackendChange>((resolve) => fast.subscribe(resolve));
      const next = remote.commit({ 'application.yml': 'shared: moved\n' }, 'fourth');
      expect(await heard).toEqual({ paths: ['application.yml'] });
      expect((await fast.findOne({ applications: ['product'], profiles: ['default'] })).version).toBe(next);
    } finally {
      await fast.close();
    }
  });

  it('keeps serving the last good state when the remote is gone, and health names the fetch error', async () => {
    const before = await json('/product/default');
    const moved = `${remote.root}-moved`;
    renameSync(remote.root, moved);
    try {
      await backend.refresh();
      const after = await json('/product/default');
      expect(after.version).toBe(before.version);
      expect(greeting(after)).toBe(greeting(before));
      const health = (await (await app.request('/actuator/health/config')).json()) as {
        status: string;
        details: { repositories: { fetchError?: string; commit?: string }[] };
      };
      expect(health.status).toBe('UP');
      expect(health.details.repositories[0]?.fetchError).toMatch(/does not appear to be a git repository|not found/i);

      // A restart with the remote still down serves from the mirror left in the data directory.
      const restarted = createGitBackend({
        uri: remote.root,
        baseDir: join(data, 'config-git'),
        defaultLabel: 'main',
        env: GIT_ENV,
      });
      await restarted.start();
      expect((await restarted.findOne({ applications: ['product'], profiles: ['default'] })).version).toBe(
        before.version,
      );
      await restarted.close();
    } finally {
      renameSync(moved, remote.root);
    }
    await backend.refresh();
    const health = (await (await app.request('/actuator/health/config')).json()) as {
      details: { repositories: { fetchError?: string }[] };
    };
    expect(health.details.repositories[0]?.fetchError).toBeUndefined();
  });

  it('answers 503 and reports DOWN when the repository was never cloned', async () => {
    const missing = createGitBackend({
      uri: join(data, 'no-such-remote'),
      baseDir: join(data, 'config-git'),
      defaultLabel: 'main',
      env: GIT_ENV,
    });
    await missing.start();
    const down = createApp({ logger: silentLogger(), backend: missing });
    expect((await down.request('/product/default')).status).toBe(503);
    const health = (await (await down.request('/actuator/health/config')).json()) as { status: string };
    expect(health.status).toBe('DOWN');
    await missing.close();
  });
});

describe('git backend: one repository per application ({application} in the URI)', () => {
  it('answers an application without a repository 404, as Spring does, and keeps no mirror of it', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'config-git-per-app-'));
    const product = remoteRepo();
    renameSync(product.root, join(parent, 'product'));
    const perApp = createGitBackend({
      uri: join(parent, '{application}'),
      baseDir: join(parent, 'mirrors'),
      defaultLabel: 'main',
      refreshMs: 60_000,
      env: GIT_ENV,
    });
    try {
      writeFileSync(join(parent, 'product', 'product.yml'), 'port: 7001\n');
      gitIn(join(parent, 'product'))('add', '-A');
      gitIn(join(parent, 'product'))('commit', '--quiet', '-m', 'first');
      await perApp.start();
      const perAppServer = createApp({ logger: silentLogger(), backend: perApp, healthShowDetails: 'always' });
      expect((await perAppServer.request('/product/default')).status).toBe(200);
      for (const name of ['nosuch', 'other', 'nosuch']) {
        const res = await perAppServer.request(`/${name}/default`);
        expect(res.status).toBe(404);
        expect(await res.text()).not.toContain(parent);
      }
      const health = (await (await perAppServer.request('/actuator/health')).json()) as {
        components: { config: { details: { repositories: unknown[] } } };
      };
      expect(health.components.config.details.repositories).toHaveLength(1);
    } finally {
      await perApp.close();
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
