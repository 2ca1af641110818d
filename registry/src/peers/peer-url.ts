// A peer's service URL as given to --peers (`http://user:pass@host:8762/eureka`): the URL requests go to, a label
// safe for logs and the dashboard, and the credentials to send. Peers take Eureka paths below the URL
// (`{url}/apps`, `{url}/peerreplication/batch`), as Eureka's serviceUrl.defaultZone entries do.
import { parseServiceUrls, type ServiceUrl } from '@trellis/kit';
import type { Credential } from '../auth/credentials.ts';

export interface PeerUrl {
  /** Without user info, query or trailing slash: `http://host:8762/eureka`. */
  readonly url: string;
  /** What logs, health details and the dashboard show: the URL, never its credentials. */
  readonly label: string;
  /** The Authorization header value, when the URL carries user info or the registry has write credentials. */
  readonly authorization: string | undefined;
}

/**
 * Reads one --peers entry. User info becomes Basic credentials for that peer (as in Spring's defaultZone); otherwise
 * the node's own write credential is sent, since the nodes of one registry share it.
 * @example parsePeerUrl('http://eureka:s3cret@peer:8762/eureka/', undefined).label // 'http://peer:8762/eureka'
 */
export function parsePeerUrl(raw: string, ownCredential: Credential | undefined): PeerUrl {
  const { url, basic } = onePeerUrl(raw);
  const clean = url.href.replace(/\/+$/, '');
  return { url: clean, label: clean, authorization: basic === undefined ? headerFor(ownCredential) : `Basic ${basic}` };
}

/** One entry of the list (config.ts splits it), failing with short reasons: the setting's error names the flag. */
function onePeerUrl(raw: string): ServiceUrl {
  if (raw.includes(',')) throw new TypeError('is a list, not one URL');
  let parsed: ServiceUrl | undefined;
  try {
    [parsed] = parseServiceUrls(raw, 'peer URL');
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined) throw new TypeError(URL.canParse(raw.trim()) ? 'is not an http(s) URL' : 'is not a URL');
  return parsed;
}

function headerFor(credential: Credential | undefined): string | undefined {
  if (credential === undefined) return undefined;
  if (credential.scheme === 'bearer') return `Bearer ${credential.token}`;
  return `Basic ${Buffer.from(`${credential.user}:${credential.password}`).toString('base64')}`;
}

/**
 * Whether a peer URL points at this node (the same --peers list is usually given to every node): a loopback or
 * equal host name with this node's port.
 */
export function isSelf(peer: PeerUrl, own: { readonly port: number; readonly host: string | undefined }): boolean {
  const url = new URL(peer.url);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  if (port !== own.port) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return ['localhost', '127.0.0.1', '::1'].includes(host) || host === own.host;
}
