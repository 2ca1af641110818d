// runUntilSignal: stops in reverse on a signal, exits with the code the outcome calls for, and leaves no handler behind.
import { describe, expect, it } from 'vitest';
import { runUntilSignal, StartupError, type Running } from '../src/index.ts';

// Emitted, never sent: only the handlers runUntilSignal adds see it.
const SIGNAL = 'SIGUSR2';

function component(name: string, stop: () => Promise<void>): Running {
  return { name, endpoints: [], stop };
}

/** The options runUntilSignal gets, with what it wrote and the exit codes it chose. */
function harness() {
  const codes: number[] = [];
  let err = '';
  let onExit = (): void => undefined;
  const exited = new Promise<void>((resolve) => (onExit = resolve));
  const options = {
    signals: [SIGNAL] as NodeJS.Signals[],
    stderr: { write: (t: string) => (err += t) },
    exit: (code: number) => {
      codes.push(code);
      onExit();
    },
  };
  return { options, codes, exited, err: () => err };
}

describe('runUntilSignal', () => {
  it('on a signal stops the components in reverse, exits 0 and removes its handler', async () => {
    const before = process.listenerCount(SIGNAL);
    const stopped: string[] = [];
    const stop = (name: string) => () => Promise.resolve(void stopped.push(name));
    const h = harness();
    await runUntilSignal((started) => {
      started.push(component('registry', stop('registry')), component('gateway', stop('gateway')));
      return Promise.resolve();
    }, h.options);
    expect(process.listenerCount(SIGNAL)).toBe(before + 1);
    process.emit(SIGNAL, SIGNAL);
    await h.exited;
    expect(stopped).toEqual(['gateway', 'registry']);
    expect(h.codes).toEqual([0]);
    expect(process.listenerCount(SIGNAL)).toBe(before);
  });

  it('on a start-up problem the user can fix, stops what started, prints one line, exits 2, removes its handler', async () => {
    const before = process.listenerCount(SIGNAL);
    const stopped: string[] = [];
    const h = harness();
    await runUntilSignal((started) => {
      started.push(component('registry', () => Promise.resolve(void stopped.push('registry'))));
      return Promise.reject(new StartupError('port 8761 is in use'));
    }, h.options);
    expect(stopped).toEqual(['registry']);
    expect(h.codes).toEqual([2]);
    expect(h.err()).toBe('trellis: port 8761 is in use\n');
    expect(process.listenerCount(SIGNAL)).toBe(before);
  });

  it('a second signal while stopping exits 1 at once', async () => {
    const before = process.listenerCount(SIGNAL);
    const h = harness();
    let finishStop = (): void => undefined;
    const slow = component('slow', () => new Promise<void>((resolve) => (finishStop = resolve)));
    await runUntilSignal((started) => Promise.resolve(void started.push(slow)), h.options);
    process.emit(SIGNAL, SIGNAL);
    process.emit(SIGNAL, SIGNAL);
    expect(h.codes).toEqual([1]);
    expect(h.err()).toBe(`trellis: ${SIGNAL} again, exiting without waiting\n`);
    finishStop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(process.listenerCount(SIGNAL)).toBe(before);
  });
});
