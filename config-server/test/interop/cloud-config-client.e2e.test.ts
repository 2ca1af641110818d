import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import type { Running } from '@trellis/kit';
import client from 'cloud-config-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vectors } from '../cipher/vectors.ts';
import { startConfigServer, tempRepo } from '../helpers.ts';

const sym = vectors.symmetric.vectors[0];
const rsa = vectors.asymmetric.vectors[0];
if (sym === undefined || rsa === undefined) throw new Error('vectors missing');
const repo = tempRepo({
  'application.yml': 'shared: from-application\nonly.app: yes\n',
  'product.yml': `shared: from-product\ndb:\n  password: '${rsa.cipherProperty}'\n`,
  'product-docker.yml': `mongo:\n  host: mongodb\n  password: '${rsa.cipherProperty}'\nbroken: '{cipher}AQBbroken'\n`,
  'v1/product.yml': 'shared: from-v1\n',
  'feature/x/product.yml': 'shared: from-feature-x\n',
});
const data = tempRepo({});
let running: Running;
let agent: https.Agent;
let endpoint: string;

beforeAll(async () => {
  const env = {
    ENCRYPT_KEY: vectors.asymmetric.privateKeyPem,
    CONFIG_CLIENTS: 'product:product-secret:product,application;review:review-secret:review',
  };
  ({ running, url: endpoint } = await startConfigServer({
    repo: repo.root,
    dataDir: data.root,
    env,
    https: true,
    argv: ['--host', '127.0.0.1'],
  }));
  agent = new https.Agent({ ca: readFileSync(join(data.root, 'tls', 'ca.pem')) });
});
afterAll(async () => {
  agent.destroy();
  await running.stop();
  repo.remove();
  data.remove();
});

describe('npm cloud-config-client against our server over HTTPS', () => {
  it('is served HTTPS by default from the local CA', () => {
    expect(endpoint).toMatch(/^https:\/\/localhost:\d+$/);
    expect(running.notes?.join('\n')).toContain(join(data.root, 'tls', 'ca.pem'));
  });

  it('reads an environment with {cipher} values decrypted, first source winning', async () => {
    const config = await client.load({
      endpoint,
      name: 'product',
      profiles: ['docker'],
      auth: { user: 'product', pass: 'product-secret' },
      agent,
    });
    expect(config.get('mongo.password')).toBe(rsa.plaintext);
    expect(config.get('db.password')).toBe(rsa.plaintext);
    expect(config.get('mongo.host')).toBe('mongodb');
    expect(config.get('shared')).toBe('from-product');
    expect(config.get('only.app')).toBe(true);
    expect(config.get('invalid.broken')).toBe('<n/a>');
    expect(config.get('broken')).toBeUndefined();
    expect(JSON.stringify(config.toObject())).not.toContain('{cipher}');
  });

  it('sends labels with a slash as %2F, which we read as feature/x', async () => {
    const config = await client.load({
      endpoint,
      name: 'product',
      label: 'feature/x',
      auth: { user: 'product', pass: 'product-secret' },
      agent,
    });
    expect(config.get('shared')).toBe('from-feature-x');
    const v1 = await client.load({
      endpoint,
      name: 'product',
      profiles: 'default',
      label: 'v1',
      auth: { user: 'product', pass: 'product-secret' },
      agent,
    });
    expect(v1.get('shared')).toBe('from-v1');
  });

  it("fails for another application's credential and without trusting the CA", async () => {
    await expect(
      client.load({ endpoint, name: 'product', auth: { user: 'review', pass: 'review-secret' }, agent }),
    ).rejects.toThrow('Invalid response: 403');
    await expect(client.load({ endpoint, name: 'product', agent })).rejects.toThrow('Invalid response: 401');
    await expect(
      client.load({ endpoint, name: 'product', auth: { user: 'product', pass: 'product-secret' } }),
    ).rejects.toThrow(/certificate/);
  });
});
