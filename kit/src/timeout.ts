// Bounded waits for shutdown: whether some work finished before its time ran out.
/** Resolves true when `work` settled in time, false once `ms` passed first; the timer never outlives the race. */
export async function finishedWithin(work: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
