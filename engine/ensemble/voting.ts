/**
 * The ensemble's vote: each model's probability, combined by a weighted mean or a weighted median. Weights
 * follow each model's rolling Brier score (lower is better: w ∝ 1 / (Brier + ε)), starting equal. After every
 * `window` judged outcomes the model with the worst rolling Brier is dropped from the vote, as long as at least
 * `minActive` models stay in.
 */

export type VoteMethod = 'mean' | 'median';

export interface VoteOptions {
  readonly method: VoteMethod;
  /** outcomes per model in its rolling Brier score, and outcomes between drop decisions */
  readonly window: number;
  /** never drop below this many voting models */
  readonly minActive: number;
}

export interface ModelStanding {
  readonly id: string;
  readonly active: boolean;
  readonly weight: number;
  /** rolling Brier score over the last `window` outcomes; null before the first */
  readonly brier: number | null;
  readonly outcomes: number;
}

const EPSILON = 0.01;

export class AdaptiveVote {
  private readonly squaredErrors: number[][];
  private readonly active: boolean[];
  private sinceDrop = 0;

  constructor(
    readonly ids: readonly string[],
    readonly options: VoteOptions,
  ) {
    if (ids.length === 0) throw new RangeError('AdaptiveVote: no models');
    if (!(options.window >= 1) || !(options.minActive >= 1)) throw new RangeError('AdaptiveVote: window and minActive must be at least 1');
    this.squaredErrors = ids.map(() => []);
    this.active = ids.map(() => true);
  }

  /** The combined probability of one set of model outputs (same order as `ids`). */
  combine(probabilities: ArrayLike<number>): number {
    if (probabilities.length !== this.ids.length) throw new RangeError(`AdaptiveVote: ${this.ids.length} models, ${probabilities.length} probabilities`);
    const weights = this.weights();
    const votes: Array<{ p: number; w: number }> = [];
    for (let i = 0; i < this.ids.length; i++) if (weights[i]! > 0 && Number.isFinite(probabilities[i]!)) votes.push({ p: probabilities[i]!, w: weights[i]! });
    if (votes.length === 0) return 0.5;
    const total = votes.reduce((s, v) => s + v.w, 0);
    if (this.options.method === 'mean') return votes.reduce((s, v) => s + v.p * v.w, 0) / total;
    votes.sort((a, b) => a.p - b.p);
    let cumulative = 0;
    for (const v of votes) {
      cumulative += v.w;
      if (cumulative >= total / 2 - 1e-12) return v.p;
    }
    return votes[votes.length - 1]!.p;
  }

  /** A judged outcome for model `index`: its probability then, and whether the event happened. */
  record(index: number, probability: number, happened: boolean): void {
    const errors = this.squaredErrors[index];
    if (!errors || !Number.isFinite(probability)) return;
    errors.push((probability - (happened ? 1 : 0)) ** 2);
    if (errors.length > this.options.window) errors.shift();
    this.sinceDrop += 1;
    if (this.sinceDrop >= this.options.window * this.activeCount()) {
      this.sinceDrop = 0;
      this.dropWorst();
    }
  }

  /** Normalized weights (inactive models 0). */
  weights(): number[] {
    const raw = this.ids.map((_, i) => {
      if (!this.active[i]) return 0;
      const b = this.brier(i);
      return b === null ? 1 / (0.25 + EPSILON) : 1 / (b + EPSILON);
    });
    const sum = raw.reduce((a, b) => a + b, 0);
    return raw.map((w) => w / sum);
  }

  standings(): ModelStanding[] {
    const weights = this.weights();
    return this.ids.map((id, i) => ({ id, active: this.active[i]!, weight: weights[i]!, brier: this.brier(i), outcomes: this.squaredErrors[i]!.length }));
  }

  private brier(i: number): number | null {
    const e = this.squaredErrors[i]!;
    return e.length === 0 ? null : e.reduce((a, b) => a + b, 0) / e.length;
  }

  private activeCount(): number {
    return this.active.filter(Boolean).length;
  }

  private dropWorst(): void {
    if (this.activeCount() <= this.options.minActive) return;
    let worst = -1;
    let worstBrier = -1;
    for (let i = 0; i < this.ids.length; i++) {
      const b = this.brier(i);
      // only a model with a full window of outcomes is judged
      if (!this.active[i] || b === null || this.squaredErrors[i]!.length < this.options.window) continue;
      if (b > worstBrier) {
        worstBrier = b;
        worst = i;
      }
    }
    if (worst >= 0) this.active[worst] = false;
  }
}
