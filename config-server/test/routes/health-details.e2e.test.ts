// The config component's details name the repository's absolute path, its file count and other applications'
// broken files (a pentest read them anonymously through the gateway): Spring Boot's show-details when-authorized,
// which --health-show-details turns on (the default, never, shows the status alone to everyone).
import type { Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConfigServer, tempRepo } from '../helpers.ts';

const repo = tempRepo({
  'application.yml': 'shared: a\n',
  'product.yml': 'port: 7001\n',
  'gateway-broken.yml': 'routes: [unclosed\n  x: :\n',
});
const data = tempRepo({});
const basic = (id: string, secret: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
});
let running: Running;
let base: string;

beforeAll(async () => {
  ({ running, url: base } = await startConfigServer({
    repo: repo.root,
    dataDir: data.root,
    env: {
      CONFIG_CLIENTS: 'product:product-secret:product;ops:ops-secret-1:*',
      CONFIG_BACKENDS: 'native,sqlite',
      CONFIG_ADMINS: 'editor:editor-secret:product',
      MANAGEMENT_ENDPOINT_HEALTH_SHOW_DETAILS: 'when-authorized',
    },
  }));
});
afterAll(async () => {
  await running.stop();
  repo.remove();
  data.remove();
});

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${path}`, { headers });
  return { status: res.status, text: await res.text() };
}

// Each backend of the composite is a component of `config`: their statuses are shown, not their details.
const summary = (status: string, native: string) => ({
  status,
  components: {
    config: { status, components: { native: { status: native }, sqlite: { status: 'UP' } } },
    livenessState: { status: 'UP' },
    readinessState: { status: 'UP' },
  },
});

describe('/actuator/health details', () => {
  it('are not shown to anonymous callers, limited clients or wrong credentials; the status and 503 stay', async () => {
    const callers: Record<string, Record<string, string>> = {
      anonymous: {},
      'limited (Basic)': basic('product', 'product-secret'),
      'limited (bearer)': { authorization: 'Bearer product-secret' },
      'limited (X-Config-Token)': { 'x-config-token': 'product-secret' },
      'wrong secret': basic('ops', 'not-the-secret'),
      'unknown scheme': { authorization: 'Digest ops-secret-1' },
    };
    for (const [who, headers] of Object.entries(callers)) {
      const health = await get('/actuator/health', headers);
      expect([who, health.status]).toEqual([who, 503]);
      expect([who, JSON.parse(health.text)]).toEqual([who, summary('DOWN', 'DOWN')]);
      const config = await get('/actuator/health/config', headers);
      expect([who, config.status, JSON.parse(config.text)]).toEqual([
        who,
        503,
        summary('DOWN', 'DOWN').components.config,
      ]);
      for (const leak of [repo.root, 'gateway-broken', 'files', 'details', 'unclosed']) {
        expect(health.text + config.text, who).not.toContain(leak);
      }
    }
    // The same paths spelled differently reach the framework's routes instead of the probe fast path.
    for (const path of [
      '/actuator/health?x=1',
      '/actuator/health/',
      '/actuator/%68ealth',
      '/actuator/health/config?',
    ]) {
      const res = await get(path);
      for (const leak of [repo.root, 'gateway-broken', 'files', 'details']) expect(res.text, path).not.toContain(leak);
    }
    // The probe groups keep answering as before.
    expect(await get('/actuator/health/readiness')).toEqual({
      status: 200,
      text: JSON.stringify({ status: 'UP', components: { readinessState: { status: 'UP' } } }),
    });
    expect((await get('/actuator/health/liveness')).status).toBe(200);
  });

  it('are shown to an unrestricted (*) client and to a write API admin', async () => {
    for (const headers of [
      basic('ops', 'ops-secret-1'),
      { 'x-config-token': 'ops-secret-1' },
      basic('editor', 'editor-secret'),
    ]) {
      const health = await get('/actuator/health', headers);
      expect(health.status).toBe(503);
      // The native backend's details: the repository's path and the broken file of another application.
      expect(health.text).toContain(JSON.stringify(repo.root).slice(1, -1));
      expect(health.text).toContain('gateway-broken.yml');
      expect((await get('/actuator/health/config', headers)).text).toContain('gateway-broken.yml');
    }
  });

  it('stop telling a right guess from a wrong one after 10 wrong credentials for a name', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await get('/actuator/health', basic('editor', `guess-${i}`))).text).not.toContain('gateway-broken');
    }
    // Locked: the right credential shows no details either, while another name's still does.
    expect((await get('/actuator/health', basic('editor', 'editor-secret'))).text).not.toContain('gateway-broken');
    expect((await get('/actuator/health', basic('ops', 'ops-secret-1'))).text).toContain('gateway-broken');
    // Reads and writes are not locked by guesses at the health endpoint.
    expect((await get('/admin/history/product/default/main', basic('editor', 'editor-secret'))).status).toBe(200);
  });

  it('keep the status following the repository', async () => {
    repo.write('gateway-broken.yml', 'routes: []\n');
    try {
      const health = await get('/actuator/health');
      expect(health.status).toBe(200);
      expect(JSON.parse(health.text)).toEqual(summary('UP', 'UP'));
    } finally {
      repo.write('gateway-broken.yml', 'routes: [unclosed\n  x: :\n');
    }
  });
});
