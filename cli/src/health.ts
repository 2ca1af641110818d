// `trellis health`: the image's HEALTHCHECK. It asks a component's liveness probe on the port that component reads.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { basename } from 'node:path';
import { isUserError, loadSettings } from '@trellis/kit';
import type { CatalogueEntry } from './catalogue.ts';

type Env = Readonly<Record<string, string | undefined>>;

export const HEALTH_HELP = `Usage: trellis health [<component> [flags]]

Asks the component's liveness probe (/actuator/health/liveness) on the port it reads from the same flags and
environment variables (e.g. trellis health registry: --port, else REGISTRY_PORT, else 8761). Exits 0 when it answers
2xx, 1 otherwise, as Docker's HEALTHCHECK expects. Without a component it probes the one this container runs (the
arguments after the trellis script on process 1's command line), so one HEALTHCHECK serves every component.`;

/** Where the container's main process keeps its command line: NUL-separated arguments. */
const MAIN_PROCESS_COMMAND_LINE = '/proc/1/cmdline';
/** Well under the HEALTHCHECK's own timeout, so a hung listener is reported here rather than killed there. */
const PROBE_TIMEOUT_MS = 3_000;
const LIVENESS = '/actuator/health/liveness';
/** Listening on every interface: the probe then asks on loopback, which the Host check always admits. */
const ALL_INTERFACES = new Set(['', '0.0.0.0', '::', '[::]']);

export interface HealthIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly exit: (code: number) => void;
  /** The main process's command line as /proc/<pid>/cmdline holds it; read from /proc/1 by default. */
  readonly commandLine?: () => string;
}

/**
 * The arguments `trellis` was given in a command line as /proc/<pid>/cmdline holds it (NUL-separated, one trailing
 * NUL): those after the trellis script, whatever runs it (`node …/bin/trellis.js`, an init, the npm bin link).
 */
export function trellisArgs(cmdline: string): string[] | undefined {
  const args = cmdline.replace(/\0$/, '').split('\0');
  const script = args.findIndex((arg) => ['trellis', 'trellis.js'].includes(basename(arg)));
  return script === -1 ? undefined : args.slice(script + 1);
}

/** One GET; TLS without checking the certificate (see probe). */
function get(url: URL, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const options = { timeout: timeoutMs, rejectUnauthorized: false };
    const req = (url.protocol === 'https:' ? https : http).get(url, options, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
  });
}

/**
 * GETs the liveness probe over HTTP, and over HTTPS when the listener hangs up on plain HTTP (a TLS listener, such as
 * the config server's): one probe for every component without knowing which serve TLS. The certificate is not
 * checked: this asks our own listener on this machine for a status, sending no credential and reading nothing else.
 */
export async function probe(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<number> {
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    return await get(new URL(`http://${authority}${LIVENESS}`), timeoutMs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') throw err;
    return get(new URL(`https://${authority}${LIVENESS}`), timeoutMs);
  }
}

/** `trellis health [<component> [flags]]`: exit 0 when the component's liveness probe answers 2xx, 1 otherwise. */
export async function healthCommand(
  entries: readonly CatalogueEntry[],
  argv: readonly string[],
  env: Env,
  io: HealthIo,
): Promise<void> {
  const fail = (reason: string): void => {
    io.stderr.write(`trellis health: ${reason}\n`);
    io.exit(1);
  };
  const args =
    argv.length > 0 ? argv : trellisArgs((io.commandLine ?? (() => readFileSync(MAIN_PROCESS_COMMAND_LINE, 'utf8')))());
  const [name, ...flags] = args ?? [];
  const entry = entries.find((e) => e.name === name);
  if (entry === undefined) {
    fail(
      name === undefined
        ? 'name a component: no trellis command line found on process 1'
        : `${JSON.stringify(name)} is no component (${entries.map((e) => e.name).join(', ')})`,
    );
    return;
  }
  const component = await entry.load();
  let settings: { port?: unknown; host?: unknown };
  try {
    settings = loadSettings(component.settings, { argv: flags, env });
  } catch (err) {
    if (!isUserError(err)) throw err;
    fail(err.message);
    return;
  }
  if (typeof settings.port !== 'number') {
    fail(`${entry.name} has no port setting to probe`);
    return;
  }
  const host = typeof settings.host === 'string' && !ALL_INTERFACES.has(settings.host) ? settings.host : '127.0.0.1';
  try {
    const status = await probe(host, settings.port);
    if (status < 200 || status > 299) {
      fail(`${entry.name} answered ${status} on port ${settings.port}`);
      return;
    }
    io.stdout.write(`${entry.name}: up on port ${settings.port}\n`);
    io.exit(0);
  } catch (err) {
    fail(`${entry.name} on port ${settings.port}: ${(err as Error).message}`);
  }
}
