import { afterAll, describe, expect, it } from 'vitest';
import { tempRepo, testServer, type EnvJson } from '../helpers.ts';

const repo = tempRepo({
  'application.yml': 'shared: app\n',
  'product.yml': 'ok: true\n',
  'product-docker.yml': 'password: hunter2\nbroken: [unclosed\n  x: :\n',
  'review.properties': 'bad=\\u12\n',
});
afterAll(() => repo.remove());
// The broken files are named in the health details.
const server = testServer(repo.root, { healthShowDetails: 'always' });

describe('a malformed file', () => {
  it('leaves the other sources serving', async () => {
    const env = await server.json<EnvJson>('/product/docker');
    expect(env.propertySources.map((s) => s.name.replace(`file:${repo.root}/`, ''))).toEqual([
      'product.yml',
      'application.yml',
    ]);
    expect((await server.json<EnvJson>('/review/default')).propertySources).toHaveLength(1);
  });

  it('is named by the config health component, without its content', async () => {
    const res = await server.get('/actuator/health');
    expect(res.status).toBe(503);
    const health = (await res.json()) as {
      components: { config: { status: string; details: { broken: { file: string; reason: string }[] } } };
    };
    expect(health.components.config.status).toBe('DOWN');
    const broken = health.components.config.details.broken.map((b) => b.file.replace(`${repo.root}/`, ''));
    expect(broken.sort()).toEqual(['product-docker.yml', 'review.properties']);
    expect(JSON.stringify(health)).not.toContain('hunter2');
    expect((await server.get('/actuator/health/readiness')).status).toBe(200);
  });

  it('recovers once the file is fixed', async () => {
    repo.write('product-docker.yml', 'password: fixed-now\n');
    repo.write('review.properties', 'bad=\\u0041\n');
    const health = (await (await server.get('/actuator/health/config')).json()) as { status: string };
    expect(health.status).toBe('UP');
    expect((await server.json<EnvJson>('/product/docker')).propertySources).toHaveLength(3);
  });
});
