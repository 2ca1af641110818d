// A capturing logger for tests of every package: the real kit logger writing into memory, so a test reads back
// exactly what would reach a log shipper (and can check that no secret did).
import { createLogger, type Logger } from '../../src/kit/logger.ts';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** The kit logger at `level`, keeping each line it writes: `lines` parsed, `text()` as written. */
export function captureLogger(level = 'debug'): { logger: Logger; readonly lines: LogLine[]; text: () => string } {
  const raw: string[] = [];
  const logger = createLogger({ name: 'test', level, destination: { write: (s: string) => void raw.push(s) } });
  return {
    logger,
    get lines() {
      return raw.map((l) => JSON.parse(l) as LogLine);
    },
    text: () => raw.join(''),
  };
}
