// How a background job (signing-key re-read, expired-token clean-up) logs its failures: an unreachable database once.
import { postgresUnreachable, type Logger } from '@trellis/kit';
import { isStoreUnavailable } from './unavailable.ts';

/** What a background job reports after each run. */
export interface BackgroundJobLog {
  failed(err: unknown): void;
  succeeded(): void;
}

/**
 * The log of a job that runs every interval. While the database is unreachable (the kit's judgement) every run fails
 * the same way, and a stack with the driver's words each time says nothing an operator can use: one warn line with
 * the reason when the outage begins, one info line when the job works again. Any other failure is a fault worth its
 * stack, each time, at `level`.
 *
 * @example
 * const cleanup = backgroundJobLog(logger, 'expired token clean-up', 'error');
 * storage.removeExpired().then(() => cleanup.succeeded(), (err) => cleanup.failed(err));
 */
export function backgroundJobLog(log: Logger, job: string, level: 'warn' | 'error'): BackgroundJobLog {
  let down = false;
  return {
    failed(err) {
      const reason = unreachable(err);
      if (reason === undefined) {
        log[level]({ err }, `${job} failed`);
        return;
      }
      if (down) return;
      down = true;
      log.warn({ reason }, `${job} failed: the database is unreachable (${reason}); retried until it is back`);
    },
    succeeded() {
      if (!down) return;
      down = false;
      log.info(`${job} works again: the database is reachable`);
    },
  };
}

/** Why the database cannot be reached, from the driver's error or the store's 503 error made of one. */
function unreachable(err: unknown): string | undefined {
  if (isStoreUnavailable(err)) return postgresUnreachable(err.cause) ?? 'no connection';
  return postgresUnreachable(err);
}
