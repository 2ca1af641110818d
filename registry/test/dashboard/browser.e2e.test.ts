// The dashboard in a real browser (Debian's chromium driven by playwright-core): what a person sees, live updates
// without a reload, and registered markup staying text.
import { createService, type Service } from '@trellis/kit';
import { launchChromium } from '../../../kit/test/support/chromium.ts';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { Registry } from '../../src/registry/registry.ts';
import { instance, jsClientBody, silentLogger } from '../helpers.ts';

let browser: Browser;
let service: Service;
let base: string;
let registry: Registry;

beforeAll(async () => {
  registry = new Registry();
  service = createService({ name: 'registry', logger: silentLogger(), git: false, drainTimeoutMs: 1000 });
  service.app.route(
    '/',
    createApp({ registry, stopping: service.stopping, dashboard: { environment: 'browser-test' } }),
  );
  const endpoint = await service.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${endpoint.port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await service?.stop();
});

async function register(app: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${base}/eureka/apps/${encodeURIComponent(app)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(jsClientBody({ app, vipAddress: 'review', ...body })),
  });
  expect(res.status).toBe(204);
}

describe('the dashboard in chromium', () => {
  it('lists the instances, explains self-preservation and shows a new instance without a reload', async () => {
    for (const n of [1, 2, 3]) {
      await register('review', {
        hostName: `review-${n}`,
        statusPageUrl: `http://review-${n}.local:7003/actuator/info`,
      });
    }
    // 640 CSS pixels wide: a 1280-pixel window at 200% zoom.
    const page = await browser.newPage({ viewport: { width: 640, height: 900 } });
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') blocked.push(m.text());
    });
    await page.goto(`${base}/`);
    const review = page.locator('#instances-table tr[data-app="REVIEW"]');
    await expect.poll(() => review.locator('th').textContent()).toBe('REVIEW');
    expect(await review.locator('td').nth(0).textContent()).toBe('3');
    expect(await review.locator('.status-UP').textContent()).toBe('UP');
    expect(await review.locator('a').allTextContents()).toEqual(['review-1', 'review-2', 'review-3']);
    expect(await review.locator('a').first().getAttribute('href')).toBe('http://review-1.local:7003/actuator/info');
    expect(await page.locator('#self-preservation').textContent()).toMatch(
      /^Self-preservation is standing by: it only engages with at least 7 instances/,
    );
    expect(await page.getByRole('heading', { level: 2 }).allTextContents()).toEqual([
      'System status',
      'DS replicas',
      'Instances currently registered',
      'General info',
      'Recent registrations and cancellations',
    ]);
    await expect.poll(() => page.locator('#live-status').textContent()).toMatch(/^Live: connected/);
    // Evaluated as text: the tests compile without the DOM library.
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);

    await register('review', { hostName: 'review-4', statusPageUrl: 'http://review-4.local:7003/actuator/info' });
    await expect
      .poll(() => page.locator('#instances-table tr[data-app="REVIEW"] a').allTextContents(), { timeout: 3000 })
      .toEqual(['review-1', 'review-2', 'review-3', 'review-4']);
    expect(await page.locator('#instances-table tr[data-app="REVIEW"] td').nth(0).textContent()).toBe('4');
    // The CSP allowed the page's own script and style: nothing was blocked.
    expect(blocked, blocked.join('\n')).toEqual([]);
    await page.close();
  });

  it('shows registered markup as text, runs none of it, and links no javascript: URL', async () => {
    // The API refuses such names now; the page must still hold if one reaches the registry another way.
    registry.register({
      ...instance('XSS', 'xss-1'),
      app: '<SCRIPT>WINDOW.__XSSAPP=1</SCRIPT>',
      instanceId: '<img src=x onerror="window.__xssId=1">',
      statusPageUrl: 'javascript:window.__xssLink=1',
      metadata: { zone: '"><script>window.__xssZone=1</script>' },
    });
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    const row = page.locator('#instances-table tr[data-app="<SCRIPT>WINDOW.__XSSAPP=1</SCRIPT>"]');
    expect(await row.locator('th').textContent()).toBe('<SCRIPT>WINDOW.__XSSAPP=1</SCRIPT>');
    expect(await row.locator('li').textContent()).toBe('<img src=x onerror="window.__xssId=1">');
    expect(await row.locator('td').nth(1).textContent()).toBe('"><script>window.__xssZone=1</script>');
    expect(await row.locator('a').count()).toBe(0);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1);
    const ran = await page.evaluate(
      "['__xssApp', '__XSSAPP', '__xssId', '__xssZone', '__xssLink'].filter((k) => k in window)",
    );
    expect(ran).toEqual([]);
    await page.close();
  });
});
