import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  credentialHeaders,
  FailoverHttp,
  type FailoverPolicy,
  type ServiceCredentials,
  type ServiceEndpoint,
} from '../../src/http/failover.ts';

type Answer = number | Error;

/** A dispatcher that answers each origin from a script (a status, or an error for no answer) and records requests. */
function scripted(script: Record<string, Answer[]>) {
  const seen: { origin: string; path: string; headers: Record<string, string> }[] = [];
  const dispatcher = {
    request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
      const origin = String(options.origin);
      seen.push({ origin, path: options.path, headers: options.headers as Record<string, string> });
      const answer = script[origin]?.shift() ?? new Error(`nothing scripted for ${origin}`);
      if (answer instanceof Error) return Promise.reject(answer);
      const body = Object.assign(Readable.from([]), {
        dump: () => Promise.resolve(),
        text: () => Promise.resolve(''),
      });
      return Promise.resolve({ statusCode: answer, headers: {}, body } as unknown as Dispatcher.ResponseData);
    },
    close: () => Promise.resolve(),
  } as unknown as Dispatcher;
  return { dispatcher, seen };
}

const policy: FailoverPolicy<ServiceEndpoint, string> = {
  target: (endpoint, path) => new URL(path, endpoint.url),
  noAnswer: (err, endpoint) => `${endpoint.url}: ${(err as Error).message}`,
  serverError: (res, endpoint) => Promise.resolve(`${endpoint.url}: HTTP ${res.statusCode}`),
  exhausted: (last) => new Error(`none answered (${last})`),
};

const endpoints = [
  { url: 'http://a:1/', basic: undefined },
  { url: 'http://b:2/', basic: undefined },
];

function client(script: Record<string, Answer[]>, credentials?: ServiceCredentials) {
  const { dispatcher, seen } = scripted(script);
  const http = new FailoverHttp({ endpoints, credentials, timeoutMs: 1000, dispatcher, policy });
  const status = (path = 'x') => http.request({ path, headers: {} }, (res) => Promise.resolve(res.statusCode));
  return { http, seen, status };
}

describe('FailoverHttp', () => {
  it('moves past a URL that does not answer or answers 5xx, then starts at the one that answered', async () => {
    const { http, seen, status } = client({
      'http://a:1': [503],
      'http://b:2': [200, 200],
    });
    expect(await status()).toBe(200);
    expect(http.current).toBe('http://b:2/');
    expect(await status()).toBe(200);
    expect(seen.map((s) => s.origin)).toEqual(['http://a:1', 'http://b:2', 'http://b:2']);
  });

  it('takes a 4xx as final, since its twin would say the same', async () => {
    const { seen, status } = client({ 'http://a:1': [404], 'http://b:2': [200] });
    expect(await status()).toBe(404);
    expect(seen).toHaveLength(1);
  });

  it("throws the policy's error with the last problem when no URL answered", async () => {
    const { status } = client({ 'http://a:1': [new Error('ECONNREFUSED')], 'http://b:2': [500] });
    await expect(status()).rejects.toThrow('none answered (http://b:2/: HTTP 500)');
  });

  it('stops at once when the caller aborts', async () => {
    const { dispatcher, seen } = scripted({ 'http://a:1': [new Error('aborted')], 'http://b:2': [200] });
    const http = new FailoverHttp({ endpoints, timeoutMs: 1000, dispatcher, policy });
    const abort = new AbortController();
    abort.abort();
    await expect(
      http.request({ path: 'x', headers: {}, signal: abort.signal }, () => Promise.resolve(0)),
    ).rejects.toThrow('aborted');
    expect(seen).toHaveLength(1);
  });

  it('throws a failed token function as it is unless the policy counts it as no answer', async () => {
    const token = () => Promise.reject(new Error('token endpoint down'));
    await expect(client({ 'http://b:2': [200] }, { token }).status()).rejects.toThrow('token endpoint down');
    const { dispatcher } = scripted({});
    const counting = new FailoverHttp({
      endpoints,
      credentials: { token },
      timeoutMs: 1000,
      dispatcher,
      policy: { ...policy, credentialsFailed: policy.noAnswer },
    });
    await expect(counting.request({ path: 'x', headers: {} }, () => Promise.resolve(0))).rejects.toThrow(
      'none answered (http://b:2/: token endpoint down)',
    );
  });
});

describe('credentialHeaders', () => {
  const plain = { url: 'http://a:1/', basic: undefined };

  it("prefers the URL's own user info, as Spring does", async () => {
    expect(await credentialHeaders({ url: 'http://a:1/', basic: 'dTpw' }, { token: 't' })).toEqual({
      authorization: 'Basic dTpw',
    });
  });

  it('sends Basic, a bearer token (asked for per request) or a header of its own', async () => {
    let n = 0;
    expect(await credentialHeaders(plain, { username: 'u', password: 'p' })).toEqual({ authorization: 'Basic dTpw' });
    expect(await credentialHeaders(plain, { token: () => `t${++n}` })).toEqual({ authorization: 'Bearer t1' });
    expect(await credentialHeaders(plain, { token: () => `t${++n}` })).toEqual({ authorization: 'Bearer t2' });
    expect(await credentialHeaders(plain, { header: 'x-config-token', value: 'c' })).toEqual({ 'x-config-token': 'c' });
    expect(await credentialHeaders(plain, undefined)).toEqual({});
  });
});
