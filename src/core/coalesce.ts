// Serializes an async job that only needs to run "at least once after each request".

/**
 * Wraps `job` so runs never overlap: a call made while a run is under way waits for one more run
 * after it, shared by every call made meanwhile. Each call resolves after a run that started after it.
 */
export function coalesced(job: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const run = (): Promise<void> => {
    if (!running) {
      running = job().finally(() => {
        running = undefined;
      });
      return running;
    }
    queued ??= running
      .catch(() => {})
      .then(() => {
        queued = undefined;
        return run();
      });
    return queued;
  };
  return run;
}
