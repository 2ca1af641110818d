// A capturing logger for tests of every package: the real kit logger writing into memory, so a test reads back
// exactly what would reach a log shipper (and can check that no secret did).
import { createLogger, type Logger } from '@trellis/kit';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/**
 * The kit logger at `level`, keeping each line it writes: `lines` parsed (one live array, so it may be destructured),
 * `text()` as written.
 */
export function captureLogger(level = 'debug'): { logger: Logger; readonly lines: LogLine[]; text: () => string } {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const write = (s: string): void => {
    raw.push(s);
    for (const line of s.split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine);
  };
  return { logger: createLogger({ name: 'test', level, destination: { write } }), lines, text: () => raw.join('') };
}
