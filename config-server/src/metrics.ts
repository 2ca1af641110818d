// The config server's own meters: environment fetches, decryption failures, /encrypt and /decrypt, backend refreshes.
import { counter, gauge, outcomeOf, timer, type Metrics } from '@trellis/kit';
import { isConfigServerError } from './errors.ts';

/**
 * What the config server records; the parts get this, not prom-client. No label carries an application, profile or
 * label name: clients choose those, so they would make series without bound. `backend` is the configured kind list.
 */
export interface ConfigServerMetrics {
  /** An environment served (read from the backend, or a kept body the backend vouched for), or a read that failed. */
  environmentFetched(err?: unknown): void;
  /** `{cipher}` values served as `invalid.<key>` (counted per decryption, not per request served from the cache). */
  environmentDecryptFailures(count: number): void;
  /** A POST /encrypt or /decrypt that reached the cipher, and whether it answered with the text. */
  cipherRequest(operation: 'encrypt' | 'decrypt', ok: boolean): void;
  /** One clone or fetch of a backend's repository, how long it took and whether it worked. */
  backendRefreshed(seconds: number, ok: boolean): void;
}

type Inc = { inc(value?: number): void };

/** The recorder on a service's meters, its children bound once; `backend` names the configured backend kinds. */
export function configServerMetrics(metrics: Metrics, backend: string): ConfigServerMetrics {
  const fetches = counter(metrics, 'trellis_config_environment_fetches_total', 'Environments fetched by clients', [
    'backend',
    'outcome',
  ]);
  const fetched = new Map<string, Inc>();
  const fetchedWith = (outcome: string): Inc => {
    let child = fetched.get(outcome);
    if (child === undefined) {
      child = fetches.labels({ backend, outcome });
      fetched.set(outcome, child);
    }
    return child;
  };
  const success = fetchedWith('SUCCESS');
  success.inc(0);

  const decryptFailures = counter(
    metrics,
    'trellis_config_decrypt_failures_total',
    '{cipher} values that did not decrypt, in served environments or posted to /decrypt',
    ['source'],
  );
  const inEnvironment = decryptFailures.labels({ source: 'environment' });
  const atEndpoint = decryptFailures.labels({ source: 'endpoint' });
  inEnvironment.inc(0);
  atEndpoint.inc(0);

  const ciphers = counter(metrics, 'trellis_config_cipher_requests_total', 'Calls of /encrypt and /decrypt', [
    'operation',
    'outcome',
  ]);
  const cipher = {
    encrypt: {
      ok: ciphers.labels({ operation: 'encrypt', outcome: 'success' }),
      failed: ciphers.labels({ operation: 'encrypt', outcome: 'failure' }),
    },
    decrypt: {
      ok: ciphers.labels({ operation: 'decrypt', outcome: 'success' }),
      failed: ciphers.labels({ operation: 'decrypt', outcome: 'failure' }),
    },
  };
  for (const op of Object.values(cipher)) {
    op.ok.inc(0);
    op.failed.inc(0);
  }

  const refreshes = timer(
    metrics,
    'trellis_config_backend_refresh_seconds',
    'Time of one clone or fetch of a backend repository',
    ['backend', 'outcome'],
  );
  const refreshOk = refreshes.labels({ backend, outcome: 'success' });
  const refreshFailed = refreshes.labels({ backend, outcome: 'failure' });
  const lastOk = gauge(
    metrics,
    'trellis_config_backend_last_refresh_success',
    '1 when the last clone or fetch of the backend worked, 0 when it failed',
    ['backend'],
  ).labels({ backend });
  const lastOkAt = gauge(
    metrics,
    'trellis_config_backend_last_successful_refresh_timestamp_seconds',
    'When the backend last cloned or fetched successfully (Unix time): how stale the served configuration may be',
    ['backend'],
  ).labels({ backend });

  return {
    environmentFetched(err) {
      if (err === undefined) success.inc();
      else fetchedWith(outcomeOf(isConfigServerError(err) ? err.status : 500)).inc();
    },
    environmentDecryptFailures(count) {
      if (count > 0) inEnvironment.inc(count);
    },
    cipherRequest(operation, ok) {
      const op = cipher[operation];
      if (ok) op.ok.inc();
      else {
        op.failed.inc();
        if (operation === 'decrypt') atEndpoint.inc();
      }
    },
    backendRefreshed(seconds, ok) {
      (ok ? refreshOk : refreshFailed).observe(seconds);
      lastOk.set(ok ? 1 : 0);
      if (ok) lastOkAt.set(Date.now() / 1000);
    },
  };
}
