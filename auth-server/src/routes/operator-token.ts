// The admin token and registration's initial access token, checked under a failure throttle per source address.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { KitEnv } from '@trellis/kit';
import { sameCredential } from '../crypto/secrets.ts';
import { AuthServerError } from '../errors.ts';
import { FailureThrottle, tooManyAttempts } from '../oidc/throttle.ts';

/** What {@link checkOperatorToken} needs: the throttle and how to name a request's source. */
export interface TokenGuard {
  /** Wrong admin and registration tokens per source address, counted in the store when it is shared. */
  readonly throttle: FailureThrottle;
  /** The throttle key of the address a request came from (trusted proxies, with their secret). */
  readonly sourceOf: (req: IncomingMessage) => string;
}

/**
 * Whether `presented` is the operator token `expected` (the admin token, the initial access token), under the
 * failure throttle keyed by `kind` and the request's source: after 10 wrong ones from a source (across instances
 * sharing the store), every attempt from there is refused with 429 before the token is looked at, the right one too,
 * so guessing stays slow however fast requests come; another source is never affected.
 */
export async function checkOperatorToken(
  c: Context<KitEnv>,
  guard: TokenGuard,
  kind: 'admin-token' | 'registration-token',
  presented: string,
  expected: string,
): Promise<boolean> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const source = incoming === undefined ? 'unknown' : guard.sourceOf(incoming);
  const checked = await guard.throttle.verify(FailureThrottle.key(kind, source), () =>
    sameCredential(presented, expected),
  );
  if (checked.refused) {
    c.header('retry-after', String(checked.retryAfterSec));
    throw new AuthServerError('too_many_attempts', tooManyAttempts(checked.retryAfterSec));
  }
  return checked.ok;
}
