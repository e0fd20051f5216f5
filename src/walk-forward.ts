/**
 * Walk-forward windows: train on `trainDays` before each test window, test on `testDays`, step by the test
 * length. Test windows tile the evaluation span without gaps or overlaps; each train window ends exactly where
 * its test window begins, so nothing a strategy learns comes from the bars it is judged on.
 */
import { DAY_MS } from '../engine/market/feed.js';

export interface WalkForwardWindow {
  /** ms UTC, inclusive */
  readonly trainFrom: number;
  /** ms UTC, exclusive; equals testFrom */
  readonly trainTo: number;
  readonly testFrom: number;
  /** ms UTC, exclusive */
  readonly testTo: number;
}

export interface WalkForwardSpec {
  readonly trainDays: number;
  readonly testDays: number;
}

export function walkForwardWindows(from: number, toExclusive: number, spec: WalkForwardSpec): WalkForwardWindow[] {
  if (!(spec.trainDays > 0 && spec.testDays > 0)) throw new RangeError(`walk-forward needs positive train and test lengths, got ${spec.trainDays} and ${spec.testDays} days`);
  const windows: WalkForwardWindow[] = [];
  for (let testFrom = from; testFrom < toExclusive; testFrom += spec.testDays * DAY_MS) {
    windows.push({
      trainFrom: testFrom - spec.trainDays * DAY_MS,
      trainTo: testFrom,
      testFrom,
      testTo: Math.min(toExclusive, testFrom + spec.testDays * DAY_MS),
    });
  }
  return windows;
}
