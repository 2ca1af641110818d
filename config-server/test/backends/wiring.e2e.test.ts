import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConfigServer, tempRepo, type EnvJson } from '../helpers.ts';

const native = tempRepo({ 'product.yml': 'port: 7001\nfrom: native\n' });
const remote = tempRepo({ 'product.yml': 'port: 7002\nfrom: git\ngit.only: yes\n' });
const data = tempRepo({ 'overrides.yml': 'forced: by-file\nport: 1\n' });
const env = { PATH: process.env.PATH, HOME: data.root, GIT_CONFIG_NOSYSTEM: '1' };
const git = (...args: string[]): void => {
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { cwd: remote.root, env });
};
git('init', '--quiet', '-b', 'main');
git('add', '-A');
git('commit', '--quiet', '-m', 'one');
writeFileSync(join(data.root, 'unused'), '');

let running: Running;
let base: string;
const OPS = { authorization: `Basic ${Buffer.from('ops:ops-secret-1').toString('base64')}` };

beforeAll(async () => {
  ({ running, url: base } = await startConfigServer({
    repo: native.root,
    dataDir: data.root,
    env: {
      CONFIG_BACKENDS: 'native,git,sqlite',
      CONFIG_GIT_URI: remote.root,
      CONFIG_SQLITE_DEFAULT_LABEL: 'main',
      CONFIG_ADMINS: 'ops:ops-secret-1:*',
      CONFIG_OVERRIDES: 'port=2',
      // The backends are components of the config component, shown with the details.
      MANAGEMENT_ENDPOINT_HEALTH_SHOW_DETAILS: 'always',
      CONFIG_OVERRIDES_FILE: join(data.root, 'overrides.yml'),
    },
    componentEnv: env,
  }));
});
afterAll(async () => {
  await running.stop();
  for (const r of [native, remote, data]) r.remove();
});

describe('trellis config-server with --backends native,git,sqlite', () => {
  it('serves overrides first, then native, git and sqlite sources in that order', async () => {
    const put = await fetch(`${base}/admin/properties/product/default/main`, {
      method: 'PUT',
      headers: { ...OPS, 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'sqlite', 'sql.only': 'yes' }),
    });
    expect(put.status).toBe(200);
    const res = await fetch(`${base}/product/default`);
    const found = (await res.json()) as EnvJson;
    expect(found.propertySources.map((s) => s.name)).toEqual([
      'overrides',
      `file:${native.root}/product.yml`,
      `file:${remote.root}/product.yml`,
      'product-default',
    ]);
    // The setting wins over the file; both win over every backend.
    expect(found.propertySources[0]?.source).toEqual({ forced: 'by-file', port: '2' });
    const health = (await (await fetch(`${base}/actuator/health/config`)).json()) as {
      status: string;
      components: Record<string, unknown>;
    };
    expect([health.status, Object.keys(health.components)]).toEqual(['UP', ['native', 'git', 'sqlite']]);
  });
});
