import { describe, expect, it } from 'vitest';
import type { LeanRequest } from '@trellis/kit';
import { EUREKA_PREFIXES } from '../../src/app.ts';
import { parseCredential } from '../../src/auth/credentials.ts';
import { REPLICATION_HEADER } from '../../src/http/negotiate.ts';
import { leanHeartbeat } from '../../src/routes/instance.ts';
import { jsClientBody, register, testApp } from '../helpers.ts';

const DIRTY = 1_767_225_600_000;
const WRITE = 'Basic ' + Buffer.from('writer:s3cret').toString('base64');

function leanRequest(url: string, headers: Record<string, string> = {}): LeanRequest {
  const q = url.indexOf('?');
  return {
    method: 'PUT',
    path: q === -1 ? url : url.slice(0, q),
    search: q === -1 ? '' : url.slice(q + 1),
    headers,
    requestId: 'test',
  };
}

describe('the lean heartbeat (PUT /eureka/apps/:app/:id before the framework)', () => {
  it('answers what the app route answers, and leaves to it everything it does not fully handle', async () => {
    const writeAuth = parseCredential('basic:writer:s3cret');
    const { app, registry, clock } = testApp({ writeAuth });
    const auth = { authorization: WRITE };
    expect(
      (await register(app, jsClientBody({ instanceId: 'i-1', lastDirtyTimestamp: DIRTY }), undefined, auth)).status,
    ).toBe(204);
    const lean = leanHeartbeat({ registry, writeAuth, prefixes: EUREKA_PREFIXES });
    const cases: [url: string, headers: Record<string, string>, lean: number | undefined][] = [
      ['/eureka/apps/JSAPP/i-1', auth, 200],
      ['/eureka/v2/apps/jsapp/i-1/', auth, 200],
      [`/eureka/apps/JSAPP/i-1?status=UP&lastDirtyTimestamp=${DIRTY}`, auth, 200],
      [`/eureka/apps/JSAPP/i-1?lastDirtyTimestamp=${DIRTY + 1}`, auth, 404],
      ['/eureka/apps/JSAPP/nope', auth, 404],
      ['/eureka/apps/JSAPP/i%2D1', auth, 200],
      // Left to the app: no credentials (401), bad parameters (400), a replica (may be 409), other resources.
      ['/eureka/apps/JSAPP/i-1', {}, undefined],
      ['/eureka/apps/JSAPP/i-1?status=SLEEPING', auth, undefined],
      ['/eureka/apps/JSAPP/i-1?lastDirtyTimestamp=soon', auth, undefined],
      [`/eureka/apps/JSAPP/i-1?lastDirtyTimestamp=${DIRTY - 1}`, { ...auth, [REPLICATION_HEADER]: 'true' }, undefined],
      ['/eureka/apps/JSAPP/i-1/status?value=DOWN', auth, undefined],
      ['/eureka/apps/JSAPP', auth, undefined],
      ['/other/apps/JSAPP/i-1', auth, undefined],
    ];
    for (const [url, headers, expected] of cases) {
      clock.advance(1000);
      const answer = lean.answer(leanRequest(url, headers));
      expect([url, answer?.status]).toEqual([url, expected]);
      if (answer === undefined) continue;
      expect(answer.body).toBeUndefined();
      expect(answer.logLevel).toBe(expected === 200 ? 'debug' : undefined);
      // The app route, on the same registry, answers the same.
      const res = await app.request(url, { method: 'PUT', headers });
      expect([url, res.status]).toEqual([url, expected]);
    }
    // It renews the lease, as the route does.
    clock.advance(5000);
    expect(lean.answer(leanRequest('/eureka/apps/JSAPP/i-1', auth))?.status).toBe(200);
    expect(registry.instance('JSAPP', 'i-1')?.leaseInfo.lastRenewalTimestamp).toBe(clock.now);
  });
});
