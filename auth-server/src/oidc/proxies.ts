// The address a request came from, for the failure throttles.
// Through trusted proxies only, reduced to the part one party controls. The kit holds both (the gateway's per-client
// cap on requests in flight keys the same way), but for the throttles every address in 127.0.0.0/8 is one party: this
// machine, from any of whose addresses a local process can send, so rotating through them would give fresh guesses.
import { addressKey as kitAddressKey } from '@trellis/kit';

export { sourceAddress } from '@trellis/kit';

export function addressKey(address: string): string {
  return address.startsWith('127.') ? '127.0.0.0/8' : kitAddressKey(address);
}
