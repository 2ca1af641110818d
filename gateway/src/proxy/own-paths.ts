// Which request paths the gateway's own app answers besides /actuator/**: the API document and Swagger UI.
/**
 * A test for the paths `routes` serve (hono paths: `:name` is one segment), so the proxy hands exactly those to the
 * app and proxies everything else, `/v3/api-docs/product` or `/swagger-uix` included. They are taken before the
 * routes, as Spring Cloud Gateway's springdoc controllers are: its request-mapping handler mapping (order 0) is asked
 * before the gateway's route handler mapping (order 1), so a `Path=/**` route never sees /v3/api-docs there either.
 */
export function ownPaths(
  routes: readonly { readonly path: string; readonly method: string }[],
): (path: string) => boolean {
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  for (const { path, method } of routes) {
    // Middleware (ALL, wildcards) serves no path of its own; the actuator is handed over by its prefix.
    if (method === 'ALL' || path.includes('*') || path.startsWith('/actuator')) continue;
    if (!path.includes(':')) exact.add(path);
    else {
      const source = path
        .split('/')
        .map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      patterns.push(new RegExp(`^${source}$`));
    }
  }
  if (exact.size === 0 && patterns.length === 0) return () => false;
  return (path) => exact.has(path) || patterns.some((p) => p.test(path));
}
