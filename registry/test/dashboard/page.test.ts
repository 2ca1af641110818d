// The dashboard as HTML text: what it shows, that registered data is escaped, and its headers.
import { describe, expect, it } from 'vitest';
import { instance, testApp } from '../helpers.ts';

async function page(app: ReturnType<typeof testApp>['app'], path = '/', headers: Record<string, string> = {}) {
  const res = await app.request(path, { headers });
  // Whitespace between tags (the source's indentation) is not what is checked.
  const text = (await res.text()).replace(/>\s+</g, '><').replace(/\s+/g, ' ');
  return { res, text };
}

describe('GET / (dashboard)', () => {
  it('shows the system status, replicas, instances grouped by application and the recent lists', async () => {
    const t = testApp({
      dashboard: {
        environment: 'staging',
        replicas: () => [
          {
            url: 'http://node-b:8762/eureka',
            state: 'unreachable',
            lastContactAt: undefined,
            lastError: 'ECONNREFUSED',
            queued: 3,
            dropped: 0,
          },
        ],
      },
    });
    for (const id of ['r1', 'r2', 'r3']) {
      t.registry.register(instance('REVIEW', id, { statusPageUrl: `http://${id}.local:7003/actuator/info` }));
    }
    t.registry.register(instance('PRODUCT', 'p1', { metadata: { zone: 'eu-1' } }));
    t.registry.setStatusOverride('PRODUCT', 'p1', 'OUT_OF_SERVICE');
    t.registry.cancel('REVIEW', 'r3');
    const { res, text } = await page(t.app);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'sha256-[^']+'; style-src 'sha256-/);
    expect(text).toContain('<td>staging</td>');
    expect(text).toContain('Self-preservation is standing by');
    expect(text).toMatch(/<th scope="row">Lease expiration enabled<\/th><td>true<\/td>/);
    expect(text).toContain(
      '<td>http://node-b:8762/eureka</td><td><span class="state-unreachable">unreachable</span> (ECONNREFUSED)',
    );
    expect(text).toMatch(/<tr data-app="REVIEW"><th scope="row">REVIEW<\/th><td>2<\/td><td>default<\/td>/);
    expect(text).toContain('<a href="http://r1.local:7003/actuator/info" rel="noopener noreferrer">r1</a>');
    expect(text).toMatch(/data-app="PRODUCT">.*eu-1.*OUT_OF_SERVICE<\/span> \(1\)/s);
    expect(text).toContain('Last 4 registrations');
    expect(text).toMatch(/Last 1 cancellations and evictions[\s\S]*<td>REVIEW<\/td><td>r3<\/td><td>cancel<\/td>/);
  });

  it('renders registered markup as text and links only http(s) status pages', async () => {
    const t = testApp();
    // The API refuses such names now; the page must still hold if one reaches the registry another way.
    t.registry.register({
      ...instance('XSS', 'xss-1'),
      app: '<SCRIPT>ALERT(1)</SCRIPT>',
      instanceId: '<img src=x onerror=alert(1)>',
      statusPageUrl: 'javascript:alert(1)',
      metadata: { zone: '"><script>alert(2)</script>' },
    });
    const { text } = await page(t.app);
    expect(text).not.toMatch(/<script>alert|<SCRIPT>|<img src=x|href="javascript/);
    expect(text.match(/<script>/g)).toHaveLength(1); // the page's own
    expect(text).toContain('&lt;SCRIPT&gt;ALERT(1)&lt;/SCRIPT&gt;');
    expect(text).toContain('<li>&lt;img src=x onerror=alert(1)&gt;</li>');
    expect(text).toContain('&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
  });

  it('is served at /eureka/web too (the gateway path), with reads protected like the API', async () => {
    const t = testApp({ readAuth: { scheme: 'bearer', token: 'reader' } });
    expect((await page(t.app, '/')).res.status).toBe(401);
    expect((await page(t.app, '/eureka/web')).res.status).toBe(401);
    const ok = await page(t.app, '/eureka/web', { authorization: 'Bearer reader' });
    expect(ok.res.status).toBe(200);
    expect(ok.text).toContain('<h2 id="instances-h">Instances currently registered</h2>');
    // The guard covers the dashboard's paths only, not everything mounted beside it.
    expect((await t.app.request('/actuator/health')).status).toBe(200);
  });
});
