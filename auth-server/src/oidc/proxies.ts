// The address a request came from, for the failure throttles.
// Through trusted proxies only, reduced to the part one party controls. The kit holds both (the gateway's per-client
// cap on requests in flight keys the same way).
export { addressKey, sourceAddress } from '@trellis/kit';
