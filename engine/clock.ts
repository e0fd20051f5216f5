import type { Clock } from './ports.js';

/** Time that only moves when the feed says so: the same for backtest and sim, so results repeat. */
export class SimClock implements Clock {
  private current: number;
  constructor(start = 0) {
    this.current = start;
  }
  now(): number {
    return this.current;
  }
  /** Move to `ts`. Time never runs backwards. */
  advanceTo(ts: number): void {
    if (ts > this.current) this.current = ts;
  }
}

export const wallClock: Clock = { now: () => Date.now() };
