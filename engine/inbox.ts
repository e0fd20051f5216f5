/**
 * The engine's single serial inbox: market events, operator commands and timer ticks run one at a time,
 * in the order they arrive. A failing job is reported to its caller and never stalls the jobs behind it.
 */
export class SerialInbox {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Queue `job`; resolves with its result once every earlier job has finished. */
  run<T>(job: () => T | Promise<T>): Promise<T> {
    this.pending += 1;
    const result = this.tail.then(job).finally(() => {
      this.pending -= 1;
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Jobs queued or running; `/status` shows it so a stuck engine is visible. */
  get depth(): number {
    return this.pending;
  }

  /** Resolves when everything queued so far has run. */
  drain(): Promise<void> {
    return this.run(() => undefined);
  }
}
