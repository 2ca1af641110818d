import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, type Service } from '../src/service.ts';
import { ensureDevCertificates } from '../src/tls/index.ts';
import type { DevTlsMaterial } from '../src/tls/index.ts';
import { captureLogger } from './support/logger.ts';

function get(url: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

let dir: string;
let tls: DevTlsMaterial;
let service: Service;
let port: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-https-'));
  tls = await ensureDevCertificates({ dir: join(dir, 'tls') });
  service = createService({ name: 'secure', logger: captureLogger().logger, git: false });
  ({ port } = await service.listen({ port: 0, host: '127.0.0.1', tls }));
});

afterAll(async () => {
  await service.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a kit service over HTTPS with the local CA', () => {
  it('answers a client that trusts the CA file', async () => {
    expect(service.endpoints[0]?.url).toBe(`https://localhost:${port}`);
    const res = await get(`https://localhost:${port}/actuator/health/liveness`, tls.ca);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'UP' });
  });

  it('is refused by a client that does not trust the CA', async () => {
    await expect(get(`https://localhost:${port}/actuator/health`)).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });
});
