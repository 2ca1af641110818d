// The landscape `trellis up` starts, as the end-to-end tests of the CLI and of the examples run it in their own
// process: on free ports, so a test never collides with a landscape already running on the default ones.

/** The port variable of every listener in the landscape: the servers, the gateway's HTTP and HTTPS, the services. */
const PORT_VARS = [
  'REGISTRY_PORT',
  'CONFIG_SERVER_PORT',
  'AUTH_SERVER_PORT',
  'GATEWAY_PORT',
  'GATEWAY_HTTPS_PORT',
  'PRODUCT_PORT',
  'RECOMMENDATION_PORT',
  'REVIEW_PORT',
  'PRODUCT_COMPOSITE_PORT',
];

/** Environment variables that put every listener of the landscape on a free port (port 0). */
export function freePortsEnv(): Record<string, string> {
  return Object.fromEntries(PORT_VARS.map((name) => [name, '0']));
}
