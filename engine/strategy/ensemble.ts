/**
 * The `ensemble` strategy: every hour, each symbol's feature vector goes through the deployed model set (one
 * merged ONNX graph, all symbols in one batch); the models' probabilities are combined by the adaptive vote, and
 * the strategy trades on the combined probability on its own, long-only, through the full risk gate. An entry
 * needs the probability at or above `minProbability` on two consecutive scans; an exit needs it below
 * `exitProbability` on two scans, or the longest model horizon to pass without a fresh entry signal. Each
 * model's call is judged at its own horizon and feeds its rolling Brier score (the vote's weights).
 */
import { FeatureVectorizer } from '../ensemble/features.js';
import type { ModelSet } from '../ensemble/loader.js';
import type { ModelSource } from '../ensemble/source.js';
import { AdaptiveVote, type VoteOptions } from '../ensemble/voting.js';
import { HysteresisTier } from '../signals/calibration.js';
import type { BarBatch, OrderIntent, Symbol } from '../types.js';
import { longOnlyIntent } from './long-only.js';
import { sellsFirst, tunableField, type Strategy, type StrategyContext, type StrategyDecision, type Tunable } from './strategy.js';
import { HOUR_MS } from '../market/feed.js';

export interface EnsembleParams {
  readonly minProbability: number;
  readonly exitProbability: number;
  readonly positionFraction: number;
  /** the round-trip cost a model's call must beat to count as right (the training label's cost) */
  readonly winThreshold: number;
  readonly vote: VoteOptions;
}


interface PendingCall {
  readonly ts: number;
  readonly close: number;
  readonly probabilities: Float32Array;
  readonly judged: Uint8Array;
}

interface SymbolState {
  readonly vectorizer: FeatureVectorizer;
  readonly entry: HysteresisTier;
  readonly exit: HysteresisTier;
  pending: PendingCall[];
  lastBuyTs: number | undefined;
}

export class EnsembleStrategy implements Strategy {
  readonly name = 'ensemble';
  readonly warmupBars = 0;
  readonly tunables: readonly Tunable[];
  private readonly params: { -readonly [K in 'minProbability' | 'exitProbability' | 'positionFraction']: number };
  private readonly states = new Map<Symbol, SymbolState>();
  private vote: { set: ModelSet; vote: AdaptiveVote } | undefined;

  constructor(
    private readonly config: EnsembleParams,
    private readonly models: ModelSource,
  ) {
    this.params = { minProbability: config.minProbability, exitProbability: config.exitProbability, positionFraction: config.positionFraction };
    this.tunables = [
      tunableField(this.params, 'minProbability', 'combined model probability an entry needs', 0.5, 1),
      tunableField(this.params, 'exitProbability', 'an exit comes when the probability stays below this', 0, 0.5),
      tunableField(this.params, 'positionFraction', 'fraction of equity per entry, before the risk gate', 0.01, 1),
    ];
  }

  prime(batch: BarBatch): void {
    for (const [symbol, bar] of batch.bars) this.state(symbol).vectorizer.update(bar);
  }

  async decide(ctx: StrategyContext): Promise<StrategyDecision[]> {
    const set = this.models.current();
    const rows: Array<{ symbol: Symbol; vector: Float32Array }> = [];
    for (const symbol of ctx.symbols) {
      const bar = ctx.bar(symbol);
      const vector = bar ? this.state(symbol).vectorizer.update(bar) : null;
      if (vector) rows.push({ symbol, vector });
    }
    if (!set) return ctx.symbols.map((symbol) => ({ symbol, features: {}, signal: { direction: 'no models', reason: this.models.problem ?? 'no model set loaded' }, intent: null }));
    const vote = this.voteFor(set);
    const cols = set.columns.length;
    const n = set.manifest.models.length;
    const batch = new Float32Array(rows.length * cols);
    rows.forEach(({ vector }, r) => {
      for (let c = 0; c < cols; c++) batch[r * cols + c] = vector[set.columns[c]!]!;
    });
    const out = rows.length > 0 ? await set.runner.run(batch, rows.length) : new Float32Array(0);

    const decisions: StrategyDecision[] = [];
    for (const symbol of ctx.symbols) {
      const r = rows.findIndex((row) => row.symbol === symbol);
      const price = ctx.price(symbol);
      const state = this.state(symbol);
      if (price !== undefined) this.judge(state, vote, set, ctx.ts, price);
      if (r < 0 || price === undefined) {
        state.entry.update(0);
        state.exit.update(0);
        decisions.push({ symbol, features: {}, signal: { direction: 'warming' }, intent: null });
        continue;
      }
      const probabilities = out.slice(r * n, (r + 1) * n);
      const p = vote.combine(probabilities);
      state.pending.push({ ts: ctx.ts, close: price, probabilities, judged: new Uint8Array(n) });
      state.entry.update(p >= this.params.minProbability ? 1 : 0);
      state.exit.update(p < this.params.exitProbability ? 1 : 0);
      const weights = vote.weights();
      decisions.push({
        symbol,
        features: { inputs: cols },
        signal: {
          probability: p,
          votes: JSON.stringify(Array.from(probabilities, (v) => Math.round(v * 1e6) / 1e6)),
          weights: JSON.stringify(weights.map((w) => Math.round(w * 1e4) / 1e4)),
          modelSet: set.manifest.createdAt,
          entryTier: state.entry.active,
          exitTier: state.exit.active,
        },
        intent: this.intentFor(ctx, symbol, p, state, set),
      });
    }
    return sellsFirst(decisions);
  }

  /** One line per model for /models. */
  describeModels(): string {
    const set = this.models.current();
    if (!set) return `No model set: ${this.models.problem ?? 'none loaded'}.`;
    const standings = this.voteFor(set).standings();
    const lines = [`Model set deployed ${set.manifest.createdAt}, loaded ${new Date(set.loadedAt).toISOString()}; vote ${this.config.vote.method}, ${standings.filter((s) => s.active).length} of ${standings.length} voting.`];
    set.manifest.models.forEach((m, i) => {
      const s = standings[i]!;
      const brier = typeof m.metrics.brier === 'number' ? m.metrics.brier.toFixed(4) : 'n/a';
      lines.push(`${m.id} (${m.horizonBars} h): weight ${(s.weight * 100).toFixed(1)}%${s.active ? '' : ' (dropped)'} · recent Brier ${s.brier === null ? 'n/a' : s.brier.toFixed(4)} over ${s.outcomes} · validation Brier ${brier}, skill ${typeof m.metrics.brierSkill === 'number' ? m.metrics.brierSkill.toFixed(4) : 'n/a'}`);
    });
    return lines.join('\n');
  }

  private voteFor(set: ModelSet): AdaptiveVote {
    if (this.vote?.set !== set) {
      // a new set starts with equal weights; pending calls of the old set can no longer be judged
      this.vote = { set, vote: new AdaptiveVote(set.manifest.models.map((m) => m.id), this.config.vote) };
      for (const s of this.states.values()) s.pending = [];
    }
    return this.vote.vote;
  }

  /** Each model's call is judged by the first bar at or after its own horizon. */
  private judge(state: SymbolState, vote: AdaptiveVote, set: ModelSet, ts: number, close: number): void {
    const horizons = set.manifest.models.map((m) => m.horizonBars * HOUR_MS);
    const longest = Math.max(...horizons);
    for (const call of state.pending) {
      for (let k = 0; k < horizons.length; k++) {
        if (call.judged[k] || ts - call.ts < horizons[k]!) continue;
        call.judged[k] = 1;
        vote.record(k, call.probabilities[k]!, Math.log(close / call.close) - this.config.winThreshold > 0);
      }
    }
    state.pending = state.pending.filter((c) => ts - c.ts < longest);
  }

  private intentFor(ctx: StrategyContext, symbol: Symbol, p: number, state: SymbolState, set: ModelSet): OrderIntent | null {
    return longOnlyIntent(ctx, symbol, state, {
      label: 'ensemble',
      entry: state.entry.active,
      exit: state.exit.active,
      horizonMs: Math.max(...set.manifest.models.map((m) => m.horizonBars)) * HOUR_MS,
      fraction: this.params.positionFraction,
      edge: { winProbability: p, payoff: 1 },
      reasons: { entry: 'the combined probability met the entry level for two scans', exit: 'probability below the exit level for two scans' },
    });
  }


  private state(symbol: Symbol): SymbolState {
    let s = this.states.get(symbol);
    if (!s) {
      s = { vectorizer: new FeatureVectorizer(), entry: new HysteresisTier(0.5, 2), exit: new HysteresisTier(0.5, 2), pending: [], lastBuyTs: undefined };
      this.states.set(symbol, s);
    }
    return s;
  }
}

