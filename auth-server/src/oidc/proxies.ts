// The address a request came from, for the failure throttles: through trusted proxies only, reduced to the part one
// party controls (the kit's throttleSource: all of 127.0.0.0/8 as one, IPv6 per /64), as the config server keys its.
export { sourceAddress, throttleSource as addressKey } from '@trellis/kit';
