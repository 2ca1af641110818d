// Which documents a client limited to some applications may receive, decided on the files a backend read.
import type { DocumentRef } from '../environment/index.ts';
import { isUnrestricted, type ConfigClient } from './clients.ts';

/** The shared documents (`application.yml`, `application-{profile}.yml`, SQLite rows of `application`). */
const SHARED = 'application';

/** Which documents one client may receive; `key` names the view in caches of what it was served. */
export interface View {
  readonly key: string;
  admits(document: DocumentRef | undefined): boolean;
}

export interface Ownership {
  /** The client's view; undefined when it may receive every document (unrestricted, or no access control). */
  viewOf(client: ConfigClient | undefined): View | undefined;
}

/**
 * The per-application rule, decided on what a backend actually read rather than on the URL (a profile or a file
 * rendering can make a lookup for `product` land on `product-composite.yml`): a client limited to some
 * applications receives a document only when the document names one of them, or the shared `application`, and
 * names no other application. A path names the applications its segments (directories, then the file name) start
 * with, each time the LONGEST known name that a segment equals or continues with `-` or `.`: `product-composite.yml`
 * names product-composite, not product with a profile `composite`; `review/application.yml` names review. SQLite
 * rows name their APPLICATION column. A document that names nothing (`nginx.conf`, `tls/ca-key.pem`) is for
 * unrestricted clients only.
 *
 * Spring's file names are ambiguous by design (`a-b.yml` is a's profile b or application a-b), so `known` must hold
 * every application a client is limited to; names are compared case-insensitively, as some file systems do.
 *
 * @example
 * const ownership = createOwnership(['product', 'product-composite']);
 * ownership.viewOf(productClient)?.admits({ file: 'product-composite.yml' }); // false
 */
export function createOwnership(known: Iterable<string>): Ownership {
  // Longest first, so the first match is the most specific application.
  const names = [...new Set([...known, SHARED].filter((n) => n !== '*').map((n) => n.toLowerCase()))].sort(
    (a, b) => b.length - a.length,
  );
  const views = new Map<string, View>();

  function named(segment: string): string | undefined {
    const s = segment.toLowerCase();
    return names.find((n) => s === n || (s.startsWith(n) && (s[n.length] === '-' || s[n.length] === '.')));
  }

  /** The applications a document names (SHARED included when it does). */
  function claims(document: DocumentRef): string[] {
    if ('application' in document) return [document.application.toLowerCase()];
    const out: string[] = [];
    for (const segment of document.file.split('/')) {
      const n = named(segment);
      if (n !== undefined) out.push(n);
    }
    return out;
  }

  function viewFor(applications: readonly string[]): View {
    const allowed = new Set(applications.map((a) => a.toLowerCase()));
    return {
      key: [...allowed].sort().join(','),
      admits(document) {
        if (document === undefined) return false;
        const named = claims(document);
        const specific = named.filter((n) => n !== SHARED);
        return specific.length > 0 ? specific.every((n) => allowed.has(n)) : named.length > 0;
      },
    };
  }

  return {
    viewOf(client) {
      if (client === undefined || isUnrestricted(client)) return undefined;
      let view = views.get(client.id);
      if (view === undefined) {
        view = viewFor(client.applications);
        views.set(client.id, view);
      }
      return view;
    },
  };
}
