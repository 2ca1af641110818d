import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/logger.ts';
import { createService } from '../src/service.ts';
import { captureLogger } from './support/logger.ts';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.secret-token-value.sig';

describe('logger redaction', () => {
  it('censors authorization and cookie headers of a logged request and response', () => {
    const { logger, text, lines } = captureLogger();
    logger.info(
      {
        req: { headers: { authorization: `Bearer ${TOKEN}`, cookie: 'session=abc123', accept: 'application/json' } },
        res: { headers: { 'set-cookie': 'session=abc123' } },
      },
      'request',
    );
    expect(text()).not.toContain(TOKEN);
    expect(text()).not.toContain('abc123');
    const line = lines[0] as unknown as { req: { headers: Record<string, string> } };
    expect(line.req.headers.authorization).toBe('[redacted]');
    expect(line.req.headers.accept).toBe('application/json');
  });

  it('censors passwords, client secrets and tokens at the top level and one level down', () => {
    const { logger, text } = captureLogger();
    logger.info(
      {
        password: 'pw-1',
        client: { client_secret: 'cs-2', clientSecret: 'cs-3' },
        body: { access_token: 'at-4', refresh_token: 'rt-5' },
      },
      'x',
    );
    for (const secret of ['pw-1', 'cs-2', 'cs-3', 'at-4', 'rt-5']) expect(text()).not.toContain(secret);
  });

  it('masks tokens in logged URLs', () => {
    expect(redactUrl('/cb?code=abc&state=1&page=2')).toBe('/cb?code=[redacted]&state=[redacted]&page=2');
    expect(redactUrl('/x?access_token=abc')).toBe('/x?access_token=[redacted]');
    expect(redactUrl('/eureka/apps?regions=a')).toBe('/eureka/apps?regions=a');
    for (const name of [
      'id_token_hint',
      'client_assertion',
      'assertion',
      'user_code',
      'device_code',
      'jwt',
      'api_key',
      'apiKey',
      'logout_hint',
      'SAMLResponse_signature',
      'sig',
      'X-Amz-Signature',
      'pwd',
      'pass',
      'auth',
      'Authorization',
      'bearer',
      'refresh',
      'otp',
      'pin',
      'cred',
      'ticket',
      'sid',
      'nonce',
      'state',
      'private',
      'hash',
      'salt',
    ]) {
      expect(redactUrl(`/x?a=1&${name}=s3cr3t&b=2`)).toBe(`/x?a=1&${name}=[redacted]&b=2`);
    }
  });

  it('logs "request completed" with status and time, and never the bearer token of the request', async () => {
    const { logger, lines, text } = captureLogger();
    const service = createService({ name: 'demo', logger, git: false });
    service.app.get('/things', (c) => c.json([]));
    const res = await service.app.request('/things?access_token=zzz-query-token', {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    const done = lines.find((l) => l.msg === 'request completed') as unknown as {
      req: { method: string; url: string };
      res: { statusCode: number };
      responseTime: number;
      reqId: string;
    };
    expect(done.req).toEqual({ method: 'GET', url: '/things?access_token=[redacted]' });
    expect(done.res.statusCode).toBe(200);
    expect(typeof done.responseTime).toBe('number');
    expect(done.reqId).toBe(res.headers.get('x-request-id'));
    expect(text()).not.toContain(TOKEN);
    expect(text()).not.toContain('zzz-query-token');
  });

  it('logs a request at the level its route chose, and a 5xx at error whatever the route chose', async () => {
    const { logger, lines } = captureLogger('info');
    const service = createService({ name: 'demo', logger, git: false });
    service.app.put('/beat', (c) => {
      c.set('requestLogLevel', 'debug');
      return c.body(null, 200);
    });
    service.app.put('/broken', (c) => {
      c.set('requestLogLevel', 'debug');
      return c.body(null, 503);
    });
    service.app.put('/plain', (c) => c.body(null, 200));
    for (const path of ['/beat', '/broken', '/plain']) await service.app.request(path, { method: 'PUT' });
    const done = lines.filter((l) => l.msg === 'request completed') as unknown as {
      req: { url: string };
      level: number;
    }[];
    expect(done.map((l) => [l.req.url, l.level])).toEqual([
      ['/broken', 50],
      ['/plain', 30],
    ]);
  });
});
