// Checks client metadata with the live provider's own rules before anything is stored.
import type { ClientMetadata } from '../oauth-clients/store.ts';
import { AuthServerError } from '../errors.ts';
import type { ProviderHolder } from './mount.ts';

/** Stands in for the secret hash: the provider only checks that a confidential client has a secret. */
const SECRET_PLACEHOLDER = 'hmac-sha256$placeholder$placeholder';

/**
 * Validates client metadata with the live provider's own rules (the ones it applies when it loads the client), so a
 * registration it would refuse at the token endpoint is refused at once with its reason, and nothing is stored.
 */
export function providerMetadataCheck(holder: ProviderHolder): (metadata: ClientMetadata) => Promise<void> {
  return async (metadata) => {
    const provider = holder.current;
    if (provider === undefined) throw new Error('the provider is not ready');
    try {
      await provider.Client.validate({
        ...metadata,
        ...(metadata.token_endpoint_auth_method === 'none' ? {} : { client_secret: SECRET_PLACEHOLDER }),
      });
    } catch (err) {
      const { error, error_description: description } = err as { error?: unknown; error_description?: unknown };
      if (error === 'invalid_client_metadata' || error === 'invalid_redirect_uri') {
        throw new AuthServerError(error, typeof description === 'string' ? description : 'invalid client metadata');
      }
      throw err;
    }
  };
}
