// A process's life: run its components until SIGTERM or SIGINT, stop them in reverse, exit with a clear code.
import { StartupError } from './errors.ts';
import type { Running } from './component.ts';
import type { Logger } from './logger.ts';
import { SettingsError } from './settings.ts';

export interface RunOptions {
  readonly logger?: Logger;
  readonly stderr?: { write(text: string): unknown };
  readonly exit?: (code: number) => void;
  readonly signals?: readonly NodeJS.Signals[];
  /**
   * Another way to ask for the graceful stop (a worker's primary, see onPrimaryStop): `stop` begins it, and does
   * nothing once stopping, so a worker that got the signal itself too is not made to exit at once.
   */
  readonly stopRequests?: (stop: () => void) => void;
}

/** A problem the user can fix from the message alone: one line and exit code 2, no stack trace. */
export function isUserError(err: unknown): err is Error {
  return err instanceof StartupError || err instanceof SettingsError;
}

/**
 * Runs a process made of components until SIGTERM or SIGINT, then stops them in reverse order of start and exits 0.
 * Start-up problems the user can fix print one line and exit 2; anything else is logged and exits 1. A second signal
 * while stopping exits at once.
 *
 * @example
 * await runUntilSignal(async () => [await registry.start(settings, { logger, env: process.env })], { logger });
 */
export async function runUntilSignal(
  start: (started: Running[]) => Promise<void>,
  options: RunOptions = {},
): Promise<void> {
  const stderr = options.stderr ?? process.stderr;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const started: Running[] = [];
  const stopAll = async (): Promise<void> => {
    for (const r of [...started].reverse()) {
      try {
        await r.stop();
      } catch (err) {
        options.logger?.error({ err, component: r.name }, 'stop failed');
      }
    }
  };
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      stderr.write(`trellis: ${signal} again, exiting without waiting\n`);
      exit(1);
      return;
    }
    stopping = true;
    options.logger?.info({ signal }, 'shutting down');
    void stopAll().then(() => {
      release();
      exit(0);
    });
  };
  options.stopRequests?.(() => {
    if (!stopping) onSignal('SIGTERM');
  });
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  // Handlers go once everything is stopped, so a process (or a test) that runs this again does not pile them up.
  const release = (): void => {
    for (const s of signals) process.off(s, onSignal);
  };
  for (const s of signals) process.on(s, onSignal);
  try {
    await start(started);
  } catch (err) {
    stopping = true;
    await stopAll();
    release();
    if (isUserError(err)) {
      stderr.write(`trellis: ${err.message}\n`);
      exit(2);
    } else {
      if (options.logger) options.logger.fatal({ err }, 'start failed');
      else stderr.write(`trellis: start failed: ${err instanceof Error ? err.message : String(err)}\n`);
      exit(1);
    }
  }
}
