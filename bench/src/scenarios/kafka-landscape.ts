// `trellis up --binder kafka`: spawn → every component's health UP (the broker's start included), and the resident
// memory of the landscape and of the broker it started, apart.
import { readFile } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { residentMb } from '../harness.ts';
import type { ScenarioContext } from '../scenario.ts';
import { startLandscape } from './landscape.ts';

/** Every component URL in the summary (`  name   http://…`), the HTTPS one where there is only that. */
function componentUrls(summary: string): Map<string, string> {
  const urls = new Map<string, string>();
  for (const m of summary.matchAll(/^ {2}([\w-]+) +(https?:\/\/\S+)/gm)) {
    if (m[1] !== undefined && m[2] !== undefined) urls.set(m[1], m[2]);
  }
  return urls;
}

/** The `status` of GET <url>/actuator/health, or the failure; the local CA is trusted for the config server. */
function healthStatus(url: string, ca: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const target = `${url}/actuator/health`;
    const onResponse = (res: IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          const status = (JSON.parse(body) as { status?: unknown }).status;
          resolve(typeof status === 'string' ? status : `HTTP ${res.statusCode}`);
        } catch {
          resolve(`HTTP ${res.statusCode}`);
        }
      });
    };
    const req = target.startsWith('https:') ? httpsGet(target, { ca }, onResponse) : httpGet(target, onResponse);
    req.on('error', (err) => resolve(err.message));
  });
}

/** The processes below `pid` (children, their children…), from /proc (Linux). */
async function descendants(pid: number): Promise<number[]> {
  const found: number[] = [];
  const tasks = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  for (const child of tasks.split(/\s+/).filter(Boolean).map(Number)) {
    found.push(child, ...(await descendants(child)));
  }
  return found;
}

async function brokerPid(landscapePid: number): Promise<number | undefined> {
  for (const pid of await descendants(landscapePid)) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('kafka.Kafka')) return pid;
  }
  return undefined;
}

/**
 * Spawns `trellis up --binder kafka` (broker on a free port, every component on a free port) and polls each
 * component's health until all answer UP; the product services' health includes the binder's, so the broker is
 * reachable by then. Memory is read 2 s later.
 */
export async function kafkaLandscape(figure: ScenarioContext['figure']): Promise<void> {
  const start = performance.now();
  const landscape = await startLandscape(['--binder', 'kafka', '--kafka-port', '0'], 60_000);
  const { child, summary } = landscape;
  try {
    const printed = performance.now() - start;
    const ca = await readFile(/Local CA: (\S+)/.exec(summary)?.[1] ?? '');
    const urls = [...componentUrls(summary).values()];
    let statuses: string[] = [];
    for (const deadline = start + 60_000; performance.now() < deadline;) {
      statuses = await Promise.all(urls.map((url) => healthStatus(url, ca)));
      if (statuses.every((s) => s === 'UP')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!statuses.every((s) => s === 'UP')) throw new Error(`bench: not all UP within 60 s: ${statuses.join(', ')}`);
    const allUp = performance.now() - start;
    figure('kafka landscape: spawn → all UP, broker included', allUp / 1000, 's', {
      max: 20,
      note: `trellis up --binder kafka, ${urls.length} components; summary printed at ${(printed / 1000).toFixed(1)} s`,
    });
    await new Promise((r) => setTimeout(r, 2000));
    const broker = await brokerPid(child.pid ?? 0);
    figure('kafka landscape: resident memory without the broker', await residentMb(child.pid ?? 0), 'MB', {
      note: 'every component of npm start in one process, on the Kafka binder',
    });
    figure(
      'kafka landscape: the broker’s resident memory',
      broker === undefined ? NaN : await residentMb(broker),
      'MB',
      {
        note: 'the Kafka 4.1.1 JVM trellis up started (KRaft, -Xmx512m)',
      },
    );
  } finally {
    await landscape.stop();
  }
}
