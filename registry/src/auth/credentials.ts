// The registry's credentials (--write-auth, --read-auth): the kit's one parser and check, in the registry's realm.
import { credentialChallenge, type Credential } from '@trellis/kit';

export { parseCredential, presents } from '@trellis/kit';
export type { Credential } from '@trellis/kit';

export const REALM = 'trellis-registry';

/** The WWW-Authenticate challenge of a 401 for this credential. */
export function challengeFor(credential: Credential): string {
  return credentialChallenge(credential, REALM);
}
