// What a scenario is and what it records: figures, their baselines, ratios and targets.
import type { LoadOptions } from './harness.ts';

export interface Figure {
  readonly name: string;
  /** Requests per second, or another figure when `unit` says so. */
  readonly value: number;
  readonly unit: string;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  /** The baseline's requests per second measured right after this figure (paired, so drift cancels out). */
  readonly baseline?: number;
  /** value / baseline. */
  readonly ratio?: number;
  /** The ratio (or, for `max-value` figures, the value) the issue asks for. */
  readonly target?: number;
  readonly targetKind?: 'min-ratio' | 'max-value' | 'min-value';
  readonly pass?: boolean;
  readonly note?: string;
}

export interface ScenarioContext {
  /**
   * Loads a URL, then the baseline server right after with the same connections and duration, and records the
   * ratio; `target` is the smallest acceptable ratio. Answers the figure as recorded.
   */
  readonly compare: (name: string, load: LoadOptions, options?: { target?: number; note?: string }) => Promise<Figure>;
  /**
   * Records a figure that is not an HTTP throughput: a latency in ms or a memory size with an upper bound, or a
   * ratio measured in process (e.g. messages/s against a raw client) with a lower bound.
   */
  readonly figure: (
    name: string,
    value: number,
    unit: string,
    options?: { max?: number; min?: number; note?: string },
  ) => void;
}

export interface Scenario {
  readonly name: string;
  run(context: ScenarioContext): Promise<void>;
}
