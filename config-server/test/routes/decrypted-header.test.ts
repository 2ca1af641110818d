import type { Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKeyChain } from '../../src/load-key-chain.ts';
import { vectors } from '../cipher/vectors.ts';
import { startConfigServer, tempRepo, testServer } from '../helpers.ts';

const v = vectors.symmetric.vectors[0]!;
const repo = tempRepo({
  'application.yml': `greeting: '${v.cipherProperty}'\nplain: text\n`,
  'product.yml': `'odd,key=1': '${v.cipherProperty}'\nbroken: '{cipher}00${v.ciphertext.slice(2)}'\nplain: product\n`,
  'product-docker.yml': `db.password: '${v.cipherProperty}'\ngreeting: hello\n`,
  'review.yml': 'port: 7003\n',
});
afterAll(() => repo.remove());

async function server() {
  const keys = await loadKeyChain({ encryptKey: v.key, encryptSalt: v.salt });
  return testServer(repo.root, keys === undefined ? {} : { keys });
}

describe('x-trellis-decrypted on GET /{name}/{profiles}', () => {
  it('lists, by property source index, exactly the keys that were {cipher} values and decrypted', async () => {
    const res = await (await server()).get('/product/docker');
    const body = (await res.json()) as { propertySources: { name: string; source: Record<string, unknown> }[] };
    expect(body.propertySources.map((s) => s.name.replace(/^.*\//, ''))).toEqual([
      'product-docker.yml',
      'product.yml',
      'application.yml',
    ]);
    // Percent-encoded keys; `broken` did not decrypt (served as invalid.broken) and is not listed.
    expect(res.headers.get('x-trellis-decrypted')).toBe('0=db.password,1=odd%2Ckey%3D1,2=greeting');
    // Spring's JSON itself is unchanged: no extra field anywhere.
    expect(Object.keys(body).sort()).toEqual(['label', 'name', 'profiles', 'propertySources', 'state', 'version']);
    expect(body.propertySources.every((s) => Object.keys(s).join() === 'name,source')).toBe(true);
  });

  it('is sent for the v2 media type too, and is empty when nothing was decrypted', async () => {
    const s = await server();
    const v2 = await s.get('/product/docker', { accept: 'application/vnd.spring-cloud.config-server.v2+json' });
    expect(v2.headers.get('x-trellis-decrypted')).toBe('0=db.password,1=odd%2Ckey%3D1,2=greeting');
    expect((await s.get('/review/default')).headers.get('x-trellis-decrypted')).toBe('1=greeting');
    const clear = tempRepo({ 'application.yml': 'plain: text\n' });
    try {
      const none = await testServer(clear.root).get('/review/default');
      expect(none.status).toBe(200);
      // Present but empty: this server reports decryption, and there was none.
      expect(none.headers.get('x-trellis-decrypted')).toBe('');
    } finally {
      clear.remove();
    }
  });

  it('is not sent with file renderings, which only people read', async () => {
    const res = await (await server()).get('/product-docker.yml');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-trellis-decrypted')).toBeNull();
  });
});

describe('x-trellis-decrypted on the lean path', () => {
  const data = tempRepo({});
  let running: Running;
  let base = '';
  beforeAll(async () => {
    ({ running, url: base } = await startConfigServer({
      repo: repo.root,
      dataDir: data.root,
      env: { ENCRYPT_KEY: v.key, ENCRYPT_SALT: v.salt },
    }));
  });
  afterAll(async () => {
    await running.stop();
    data.remove();
  });

  it('is the same on a repeated fetch as on the first', async () => {
    const answers = [];
    for (let i = 0; i < 3; i++)
      answers.push((await fetch(`${base}/product/docker`)).headers.get('x-trellis-decrypted'));
    expect(answers).toEqual(Array(3).fill('0=db.password,1=odd%2Ckey%3D1,2=greeting'));
  });
});
