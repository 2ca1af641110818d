// Who may change what: the write credential (--write-auth) changes everything (peers and operators), each
// REGISTRY_CLIENTS credential only instances of its own applications. Beyond Eureka, which has one credential for all:
// with it a compromised `review` could register its own listener as PRODUCT-COMPOSITE and receive the bearer tokens
// the gateway forwards there. A limited client is judged on what the registry would store: the `{APP}` of the path
// (decoded exactly as the routes decode it; a registration's body must name the same app) and, for a registration,
// the VIP addresses, since Spring's discovery client (and so lb:// in a Spring gateway) finds instances by VIP.
import { asciiUpperCase } from '@trellis/clients/discovery';
import { mayActFor, type ScopedClient, type ScopedCredentials } from '@trellis/kit';
import { RegistryError } from '../errors.ts';
import { presents } from './credentials.ts';
import type { Credential } from './credentials.ts';

export interface WriteAccess {
  /** The all-applications credential (REGISTRY_WRITE_AUTH). */
  readonly write?: Credential | undefined;
  /** Credentials limited to some applications (REGISTRY_CLIENTS; `*` entries are all-applications too). */
  readonly clients?: ScopedCredentials | undefined;
}

/** Who is writing: everything, or only instances of some applications (upper-cased). */
export type Writer = { readonly all: true } | { readonly all: false; readonly client: ScopedClient };

const ALL: Writer = { all: true };

/** Whether writes need a credential at all. */
export function writesGuarded(access: WriteAccess): boolean {
  return access.write !== undefined || (access.clients?.clients.length ?? 0) > 0;
}

/** The writer this Authorization header proves; ALL when writes are open; undefined when it proves none. */
export function writerOf(access: WriteAccess, authorization: string | undefined): Writer | undefined {
  if (!writesGuarded(access)) return ALL;
  if (access.write !== undefined && presents(access.write, authorization)) return ALL;
  const client = access.clients?.basic(authorization);
  if (client === undefined) return undefined;
  return client.scopes.includes('*') ? ALL : { all: false, client };
}

/** Whether the writer may change instances of `app` (already upper-cased), e.g. on the lean heartbeat path. */
export function writerMay(writer: Writer, app: string): boolean {
  return writer.all || mayActFor(writer.client, app);
}

function refusal(writer: Extract<Writer, { all: false }>, what: string): RegistryError {
  const apps = writer.client.scopes.join(', ');
  return new RegistryError(
    'forbidden',
    `Credentials ${writer.client.id} may change only instances of ${apps}, not ${what}`,
  );
}

/**
 * Refuses (403 with the reason) a limited writer's request unless it changes one of its own applications:
 * `{prefix}/apps/{APP}[/…]` without the peer replication header. Anything else (the replication batch, a request
 * marked as a peer's, which peers do not pass on) needs an all-applications credential.
 */
export function checkWritePath(writer: Writer, path: string, prefixes: readonly string[], replicated: boolean): void {
  if (writer.all) return;
  if (replicated) throw refusal(writer, 'peer replication');
  const rest = prefixes.map((p) => `${p}/apps/`).find((p) => path.startsWith(p));
  if (rest === undefined) throw refusal(writer, 'this resource');
  const segment = path.slice(rest.length).split('/')[0] ?? '';
  // Route parameters are percent-decoded once; so is the segment, so both see the same name.
  let app: string;
  try {
    app = asciiUpperCase(segment.includes('%') ? decodeURIComponent(segment) : segment);
  } catch {
    throw new RegistryError('invalid_request', 'Malformed application name in the path');
  }
  if (!mayActFor(writer.client, app)) throw refusal(writer, JSON.stringify(app));
}

/**
 * Refuses (403) a limited writer's registration whose VIP addresses name something other than its applications
 * (`name` or `name:port`, compared upper-cased): another app's VIP would draw that app's traffic.
 */
export function checkVipAddresses(writer: Writer, vips: readonly (string | null)[]): void {
  if (writer.all) return;
  for (const list of vips) {
    for (const raw of (list ?? '').split(',')) {
      const entry = raw.trim();
      if (entry === '') continue;
      const name = asciiUpperCase(entry.split(':')[0] ?? '');
      if (!mayActFor(writer.client, name)) throw refusal(writer, `VIP address ${JSON.stringify(entry)}`);
    }
  }
}

// The writer the guard found, for the routes that judge the body (a registration's VIP addresses).
const writers = new WeakMap<Request, Writer>();

export function rememberWriter(request: Request, writer: Writer): void {
  writers.set(request, writer);
}

/** The writer the guard let through for this request (ALL when the guard did not run, i.e. writes open). */
export function writerFor(request: Request): Writer {
  return writers.get(request) ?? ALL;
}
