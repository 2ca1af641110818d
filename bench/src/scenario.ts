import type { LoadResult } from './harness.ts';

export interface Figure {
  readonly name: string;
  /** Requests per second, or another throughput when `unit` says so. */
  readonly value: number;
  readonly unit: string;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  /** value / baseline requests per second of the same run. */
  readonly ratio?: number;
  /** The ratio (or, for `max` figures, the value) the issue asks for. */
  readonly target?: number;
  readonly targetKind?: 'min-ratio' | 'max-value';
  readonly pass?: boolean;
  readonly note?: string;
}

export interface ReportOptions {
  readonly target?: number;
  readonly note?: string;
}

/** Records a load result (compared with the baseline) or, with `value`, a plain figure such as a latency or memory. */
export type Report = (name: string, result: LoadResult, options?: ReportOptions) => void;

export interface ScenarioContext {
  /** Records a figure that is not a load result: a p99 in ms or a memory size, with an upper bound. */
  readonly figure: (name: string, value: number, unit: string, options?: { max?: number; note?: string }) => void;
}

export interface Scenario {
  readonly name: string;
  run(report: Report, context: ScenarioContext): Promise<void>;
}
