// Spring's server URL lists (Eureka's defaultZone, the config URI), each URL split from its credentials.
/** A server URL split from its user info: the credentials become an Authorization header, never a log line. */
export interface ServiceUrl {
  /** The URL without user info, query or fragment. */
  readonly url: URL;
  /** Base64 `user:password` when the URL carried user info, as Spring's clients read it. */
  readonly basic: string | undefined;
}

/**
 * Reads Spring's URL-list settings (`eureka.client.serviceUrl.defaultZone`, `spring.cloud.config.uri`): one URL, a
 * comma-separated list, or an array, each http or https, with optional `user:password@`. Throws a `TypeError` whose
 * message never contains the password; callers turn it into their own error.
 *
 * @example
 * parseServiceUrls('http://user:pw@localhost:8761/eureka/', 'registry URL')[0].basic // 'dXNlcjpwdw=='
 */
export function parseServiceUrls(value: string | readonly string[], what: string): ServiceUrl[] {
  const list = (typeof value === 'string' ? [value] : value).flatMap((v) => v.split(','));
  const parsed = list
    .map((v) => v.trim())
    .filter((v) => v !== '')
    .map((raw): ServiceUrl => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new TypeError(`${what} is not a URL: ${raw.replace(/\/\/[^@/]*@/, '//')}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`${what} must be http or https: ${url.origin}`);
      }
      const basic =
        url.username === ''
          ? undefined
          : Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
      url.username = '';
      url.password = '';
      url.search = '';
      url.hash = '';
      return { url, basic };
    });
  if (parsed.length === 0) throw new TypeError(`no ${what} given`);
  return parsed;
}
