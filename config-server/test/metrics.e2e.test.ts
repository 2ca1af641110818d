// The config server's own meters at /actuator/prometheus after real fetches, a failed decrypt and a git clone.
import type { Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GIT_ENV, gitIn, startConfigServer, tempRepo } from './helpers.ts';
import { parseSamples, valueIn } from '../../kit/test/support/scrape.ts';

const APP = 'metricsprobeapp';
const remote = tempRepo({ [`${APP}.yml`]: 'greeting: hello\nbroken: "{cipher}not-a-ciphertext"\n' });
const data = tempRepo({});
const git = gitIn(remote.root);
git('init', '--quiet', '-b', 'main');
git('add', '-A');
git('commit', '--quiet', '-m', 'one');

let running: Running;
let base: string;

beforeAll(async () => {
  ({ running, url: base } = await startConfigServer({
    repo: remote.root,
    dataDir: data.root,
    env: { CONFIG_BACKENDS: 'git', CONFIG_GIT_URI: remote.root, ENCRYPT_KEY: 'metrics-test-key-0123456789' },
    componentEnv: GIT_ENV,
  }));
});
afterAll(async () => {
  await running.stop();
  remote.remove();
  data.remove();
});

describe('GET /actuator/prometheus on the config server', () => {
  it('counts fetches by outcome, decrypt failures, /encrypt and /decrypt calls, and times the git clone', async () => {
    for (let n = 0; n < 2; n++) {
      const res = await fetch(`${base}/${APP}/default`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { propertySources: { source: Record<string, unknown> }[] };
      expect(body.propertySources[0]?.source).toHaveProperty('invalid.broken');
    }
    expect((await fetch(`${base}/${APP}/default/no-such-branch`)).status).toBe(404);
    const encrypt = await fetch(`${base}/encrypt`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'plain',
    });
    expect(encrypt.status).toBe(200);
    const decrypt = await fetch(`${base}/decrypt`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'abcdef0123456789',
    });
    expect(decrypt.status).toBe(400);

    const res = await fetch(`${base}/actuator/prometheus`);
    expect(res.status).toBe(200);
    const all = parseSamples(await res.text());
    const fetches = { backend: 'git', application: 'config-server' };
    expect(valueIn(all, 'trellis_config_environment_fetches_total', { ...fetches, outcome: 'SUCCESS' })).toBe(2);
    expect(valueIn(all, 'trellis_config_environment_fetches_total', { ...fetches, outcome: 'CLIENT_ERROR' })).toBe(1);
    // Decrypted once: the second fetch is served from the environment kept for the same commit.
    expect(valueIn(all, 'trellis_config_decrypt_failures_total', { source: 'environment' })).toBe(1);
    expect(valueIn(all, 'trellis_config_decrypt_failures_total', { source: 'endpoint' })).toBe(1);
    expect(valueIn(all, 'trellis_config_cipher_requests_total', { operation: 'encrypt', outcome: 'success' })).toBe(1);
    expect(valueIn(all, 'trellis_config_cipher_requests_total', { operation: 'decrypt', outcome: 'failure' })).toBe(1);
    expect(valueIn(all, 'trellis_config_cipher_requests_total', { operation: 'decrypt', outcome: 'success' })).toBe(0);
    // The start-up clone is the first refresh.
    const refreshes = valueIn(all, 'trellis_config_backend_refresh_seconds_count', {
      backend: 'git',
      outcome: 'success',
    });
    expect(refreshes).toBeGreaterThanOrEqual(1);
    expect(valueIn(all, 'trellis_config_backend_refresh_seconds_sum', { backend: 'git' })).toBeGreaterThan(0);
    expect(valueIn(all, 'trellis_config_backend_last_refresh_success', { backend: 'git' })).toBe(1);
    const at = valueIn(all, 'trellis_config_backend_last_successful_refresh_timestamp_seconds', { backend: 'git' });
    expect(Math.abs((at ?? 0) - Date.now() / 1000)).toBeLessThan(120);
    expect(valueIn(all, 'http_server_requests_seconds_count', { uri: '/{name}/{profiles}', status: '200' })).toBe(2);

    // Application and label names are the clients' choice: none is a label value.
    const values = all.flatMap((s) => Object.values(s.labels)).join('\n');
    for (const chosen of [APP, 'no-such-branch', 'default']) expect(values).not.toContain(chosen);
  });
});
