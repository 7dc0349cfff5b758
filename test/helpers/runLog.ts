// The log of a long end-to-end test (pods runner, Docker stack): every line is kept in a bounded ring, printed live
// with PODS_LOG=1, and the last lines go into the failure of a step that overran its own deadline. A CI run shows
// only the failure messages: without them a timed-out file says nothing of where it stood.

export interface RunLog {
  /** Records a line (with seconds since the start); printed at once when PODS_LOG is set. */
  log: (line: string) => void;
  /** The last `n` lines recorded. */
  tail: (n?: number) => string;
  /**
   * Runs `step` under its own deadline: past `ms` it fails with the step's name, the seconds taken and the log's last
   * lines (the step itself goes on in the background until the file's teardown stops what it waits on).
   */
  within: <T>(name: string, ms: number, step: () => Promise<T>) => Promise<T>;
}

export function runLog(capacity = 60): RunLog {
  const t0 = Date.now();
  const ring: string[] = [];
  const log = (line: string) => {
    const l = `${((Date.now() - t0) / 1000).toFixed(1)} ${line}`;
    ring.push(l.length > 600 ? `${l.slice(0, 600)}…` : l);
    if (ring.length > capacity) ring.shift();
    if (process.env.PODS_LOG) console.error(l);
  };
  const tail = (n = 25) => ring.slice(-n).join("\n");
  const within = async <T>(name: string, ms: number, step: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const overran = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`${name}: not done after ${((Date.now() - started) / 1000).toFixed(0)} s; the log's last lines:\n${tail()}`)), ms);
    });
    try {
      return await Promise.race([step(), overran]);
    } finally {
      clearTimeout(timer);
    }
  };
  return { log, tail, within };
}
