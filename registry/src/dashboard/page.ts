// The dashboard page: server-rendered HTML, one inline style and one inline script (allowed by their hashes in the
// Content-Security-Policy, so an injected script could not run even if escaping ever failed). The script keeps the
// page live: it listens to the dashboard's event stream and, on a change, fetches the page again and swaps the
// sections marked data-live, so the rendering exists once, here, and never in the browser.
//
// Served at `/` and, behind the gateway, at `/eureka/web`: the script derives the event stream's URL from where
// the page was loaded, and the page has no other relative links.
import { createHash } from 'node:crypto';
import type { PeerStatus } from '../peers/replicator.ts';
import { html, raw, safeHref } from './html.ts';
import type { SafeHtml } from './html.ts';
import type { ApplicationRow, DashboardModel } from './model.ts';

const STYLE = `
:root { color-scheme: light dark; --warn-bg: #fff3cd; --warn-fg: #664d03; --ok: #146c2e; --bad: #b3261e; }
body { font-family: system-ui, sans-serif; line-height: 1.4; margin: 0 auto; padding: 1rem; max-width: 80rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 .5rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border: 1px solid #8888; padding: .3rem .5rem; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th[scope=row] { width: 16rem; }
.warning { background: var(--warn-bg); color: var(--warn-fg); border-left: .3rem solid currentColor; padding: .5rem .75rem; }
.status-UP, .state-reachable { color: var(--ok); font-weight: 600; }
.status-DOWN, .status-OUT_OF_SERVICE, .state-unreachable { color: var(--bad); font-weight: 600; }
ul.ids { margin: .2rem 0 .4rem; padding-left: 1.2rem; }
#live-status { font-size: .9rem; }
`;

const SCRIPT = `
(() => {
  const root = location.pathname.replace(/\\/eureka\\/web\\/?$/, '').replace(/\\/+$/, '') + '/';
  const status = document.getElementById('live-status');
  let timer = 0;
  let busy = false;
  let again = false;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const res = await fetch(location.href, { headers: { accept: 'text/html' }, cache: 'no-store' });
      if (!res.ok) throw new Error(String(res.status));
      const next = new DOMParser().parseFromString(await res.text(), 'text/html');
      for (const section of document.querySelectorAll('[data-live]')) {
        const fresh = next.getElementById(section.id);
        if (!fresh) continue;
        for (const open of section.querySelectorAll('details[id]')) {
          fresh.querySelector('#' + CSS.escape(open.id))?.toggleAttribute('open', open.open);
        }
        section.replaceWith(document.adoptNode(fresh));
      }
      status.textContent = 'Live: updated at ' + new Date().toLocaleTimeString();
    } catch {
      status.textContent = 'Live: the last update failed; retrying.';
    } finally {
      busy = false;
      if (again) { again = false; schedule(); }
    }
  };
  const schedule = () => {
    if (timer === 0) timer = setTimeout(() => { timer = 0; void refresh(); }, 150);
  };
  const events = new EventSource(root + 'eureka/web/events');
  events.addEventListener('change', schedule);
  events.addEventListener('open', () => { status.textContent = 'Live: connected; changes show as they happen.'; });
  events.addEventListener('error', () => { status.textContent = 'Live: connection lost; reconnecting.'; });
  // Uptime and renewal counts move without registry changes.
  setInterval(schedule, 15000);
})();
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only the page's own script and style run; data goes back to the page's own origin. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// Built outside the html template, byte for byte what the hashes cover (a formatter may re-indent template text).
const STYLE_ELEMENT = raw(`<style>${STYLE}</style>`);
const SCRIPT_ELEMENT = raw(`<script>${SCRIPT}</script>`);

export function renderDashboard(model: DashboardModel): string {
  const page = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Trellis registry</title>
        <link rel="icon" href="data:," />
        ${STYLE_ELEMENT}
      </head>
      <body>
        <header>
          <h1>Trellis registry</h1>
          <p id="live-status" role="status">Live: connecting…</p>
        </header>
        <main>
          ${systemStatus(model)} ${replicas(model.replicas)} ${instances(model.applications)} ${generalInfo(model)}
          ${recent(model)}
        </main>
        ${SCRIPT_ELEMENT}
      </body>
    </html> `;
  return page.toString();
}

function systemStatus(model: DashboardModel): SafeHtml {
  const { status } = model;
  const sp = status.selfPreservation;
  const state = !sp.enabled ? 'off' : sp.engaged ? 'ON: evictions suspended' : 'enabled, not engaged';
  return html`<section id="system-status" data-live aria-labelledby="system-status-h">
    <h2 id="system-status-h">System status</h2>
    <div class="table-wrap">
      <table>
        <caption>
          Registry state
        </caption>
        <tbody>
          ${row('Environment', model.environment)} ${row('Current time', iso(model.now))}
          ${row('Uptime', duration(model.uptimeMs))}
          ${row('Lease expiration enabled', status.leaseExpirationEnabled ? 'true' : 'false')}
          ${row('Renew threshold (per minute)', String(sp.threshold))}
          ${row('Renews (last minute)', String(status.renewsLastMinute))} ${row('Self-preservation', state)}
        </tbody>
      </table>
    </div>
    <p id="self-preservation" ${sp.engaged ? raw(' class="warning"') : undefined}>${sp.explanation}</p>
  </section>`;
}

function replicas(peers: readonly PeerStatus[]): SafeHtml {
  const body =
    peers.length === 0
      ? html`<p>No replicas: this node runs alone (give the other nodes with --peers).</p>`
      : html`<div class="table-wrap">
          <table>
            <caption>
              Other registry nodes this one replicates to
            </caption>
            <thead>
              <tr>
                <th scope="col">Replica</th>
                <th scope="col">State</th>
                <th scope="col">Last contact</th>
                <th scope="col">Queued items</th>
                <th scope="col">Dropped items</th>
              </tr>
            </thead>
            <tbody>
              ${peers.map(
                (peer) =>
                  html`<tr>
                    <td>${peer.url}</td>
                    <td>
                      <span class="state-${peer.state}">${peer.state}</span>${
                        peer.lastError === undefined ? undefined : html` (${peer.lastError})`
                      }
                    </td>
                    <td>${peer.lastContactAt === undefined ? 'never' : iso(peer.lastContactAt)}</td>
                    <td>${peer.queued}</td>
                    <td>${peer.dropped}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>`;
  return html`<section id="replicas" data-live aria-labelledby="replicas-h">
    <h2 id="replicas-h">DS replicas</h2>
    ${body}
  </section>`;
}

function instances(applications: readonly ApplicationRow[]): SafeHtml {
  const body =
    applications.length === 0
      ? html`<p>No instances are registered.</p>`
      : html`<div class="table-wrap">
          <table id="instances-table">
            <caption>
              Instances grouped by application; each instance id links to its status page
            </caption>
            <thead>
              <tr>
                <th scope="col">Application</th>
                <th scope="col">Instances</th>
                <th scope="col">Availability zones</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              ${applications.map(
                (app) =>
                  html`<tr data-app="${app.name}">
                    <th scope="row">${app.name}</th>
                    <td>${app.instances}</td>
                    <td>${app.zones.join(', ')}</td>
                    <td>
                      ${app.byStatus.map(
                        (group) =>
                          html`<div>
                            <span class="status-${group.status}">${group.status}</span> (${group.instances.length})
                            <ul class="ids">
                              ${group.instances.map((inst) => {
                                const href = safeHref(inst.statusPageUrl);
                                return href === undefined
                                  ? html`<li>${inst.id}</li>`
                                  : html`<li><a href="${href}" rel="noopener noreferrer">${inst.id}</a></li>`;
                              })}
                            </ul>
                          </div>`,
                      )}
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>`;
  return html`<section id="instances" data-live aria-labelledby="instances-h">
    <h2 id="instances-h">Instances currently registered</h2>
    ${body}
  </section>`;
}

function generalInfo(model: DashboardModel): SafeHtml {
  const { system, status } = model;
  return html`<section id="general-info" data-live aria-labelledby="general-info-h">
    <h2 id="general-info-h">General info</h2>
    <div class="table-wrap">
      <table>
        <caption>
          This node
        </caption>
        <tbody>
          ${row('Total memory', megabytes(system.totalMemoryBytes))}
          ${row('Free memory', megabytes(system.freeMemoryBytes))}
          ${row('Registry process memory (resident)', megabytes(system.residentBytes))}
          ${row('JavaScript heap used', megabytes(system.heapUsedBytes))} ${row('CPUs', String(system.cpus))}
          ${row('Node.js', system.nodeVersion)} ${row('Registered instances', String(status.instances))}
          ${row('Applications', String(status.applications))}
          ${row('Registry version (versions__delta)', String(status.version))}
        </tbody>
      </table>
    </div>
  </section>`;
}

function recent(model: DashboardModel): SafeHtml {
  const registrations = model.recentRegistrations;
  const cancellations = model.recentCancellations;
  return html`<section id="recent" data-live aria-labelledby="recent-h">
    <h2 id="recent-h">Recent registrations and cancellations</h2>
    ${recentTable(
      'recent-registrations',
      `Last ${registrations.length} registrations`,
      ['Time', 'Application', 'Instance'],
      registrations.map((e) => [iso(e.at), e.app, e.id]),
    )}
    ${recentTable(
      'recent-cancellations',
      `Last ${cancellations.length} cancellations and evictions`,
      ['Time', 'Application', 'Instance', 'Reason'],
      cancellations.map((e) => [iso(e.at), e.app, e.id, e.reason]),
    )}
  </section>`;
}

/** One collapsible table of recent events, newest first (each cell escaped by `html`). */
function recentTable(id: string, summary: string, columns: readonly string[], rows: readonly string[][]): SafeHtml {
  return html`<details id="${id}">
    <summary>${summary}</summary>
    <div class="table-wrap">
      <table>
        <caption>
          Newest first
        </caption>
        <thead>
          <tr>
            ${columns.map((c) => html`<th scope="col">${c}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (cells) =>
              html`<tr>
                ${cells.map((c) => html`<td>${c}</td>`)}
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </details>`;
}

function row(label: string, value: string): SafeHtml {
  return html`<tr>
    <th scope="row">${label}</th>
    <td>${value}</td>
  </tr>`;
}

function iso(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

function megabytes(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MB`;
}

/** `3d 04:05:06`, days only when there are some. */
function duration(ms: number): string {
  const total = Math.floor(ms / 1000);
  const days = Math.floor(total / 86_400);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const clock = `${pad(Math.floor((total % 86_400) / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  return days > 0 ? `${days}d ${clock}` : clock;
}
