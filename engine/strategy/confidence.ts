/**
 * The `confidence` strategy: long-only, one position per symbol. Each bar, for each symbol: features on the
 * hourly and 4-hour timeframes, regime labels, the narrative (or its absence), the raw signal, its calibrated
 * confidence, and the evidence lines. An entry needs the signal to be up and to meet the three thresholds
 * (quality, conviction, confidence — what `/threshold` shows) on two consecutive scans; an exit needs a down
 * signal that meets quality and confidence on two consecutive scans, or the horizon to pass without a fresh
 * entry signal. Sizes carry the calibrated edge, so the full risk gate's Kelly cap applies.
 */
import { FeatureSet, HigherTimeframeFeatureSet, type FeatureSnapshot } from '../features/features.js';
import { policyFor, RegimeClassifier, type Regime, type RegimePolicyTable } from '../features/regime.js';
import type { SignalView } from '../api.js';
import { HysteresisTier } from '../signals/calibration.js';
import { DEFAULT_MODEL_PARAMS, patternHash, scoreSignal, type RawSignal } from '../signals/confidence.js';
import { evidenceLines } from '../signals/evidence.js';
import { SignalTracker, type TrackerParams } from '../signals/tracker.js';
import type { Bar, BarBatch, OrderIntent, Symbol } from '../types.js';
import { longOnlyIntent } from './long-only.js';
import { sellsFirst, tunableField, type Strategy, type StrategyContext, type StrategyDecision, type Tunable } from './strategy.js';
import { HOUR_MS } from '../market/feed.js';

/** Where the narrative comes from. Absent in sim and backtest: the signal then says so, it never fakes one. */
export interface NarrativeSource {
  /** −1..1 at time `now` (ms UTC), or null when there is no recent news about `symbol` */
  narrative(symbol: Symbol, now: number): number | null;
}

export interface ConfidenceParams {
  readonly minQuality: number;
  readonly minConviction: number;
  readonly minConfidence: number;
  /** fraction of equity for one entry, before the regime's size multiplier and the risk gate */
  readonly positionFraction: number;
  readonly tracker: TrackerParams;
  readonly policies: RegimePolicyTable;
}

/** scans in a row a tier needs before it counts */
const TIER_SCANS = 2;

interface SymbolState {
  readonly hourly: FeatureSet;
  readonly fourHour: HigherTimeframeFeatureSet;
  readonly regime: RegimeClassifier;
  readonly fourHourRegime: RegimeClassifier;
  readonly entry: HysteresisTier;
  readonly exit: HysteresisTier;
  /** open time of the bar of our last buy */
  lastBuyTs: number | undefined;
  latest: SignalView | undefined;
}

interface Scan {
  readonly features: FeatureSnapshot;
  readonly signal: RawSignal | null;
  readonly regime: Regime | null;
  readonly calibrated: number | null;
  readonly confidence: number;
  readonly hash: string | null;
  readonly evidence: string[];
  readonly sizeMultiplier: number;
  readonly minConfidence: number;
}

export class ConfidenceStrategy implements Strategy {
  readonly name = 'confidence';
  readonly warmupBars = 0;
  readonly tunables: readonly Tunable[];
  readonly tracker: SignalTracker;
  private readonly params: { -readonly [K in 'minQuality' | 'minConviction' | 'minConfidence' | 'positionFraction']: number };
  private readonly states = new Map<Symbol, SymbolState>();

  constructor(
    private readonly config: ConfidenceParams,
    private readonly narrative: NarrativeSource | null,
    /** why the narrative is absent when `narrative` is null; shown in evidence lines, so no digits */
    private readonly narrativeAbsence = 'no news input in this mode',
  ) {
    this.params = { minQuality: config.minQuality, minConviction: config.minConviction, minConfidence: config.minConfidence, positionFraction: config.positionFraction };
    this.tracker = new SignalTracker(config.tracker);
    this.tunables = [
      tunableField(this.params, 'minQuality', 'signal quality (0-10) an entry needs', 0, 10),
      tunableField(this.params, 'minConviction', 'conviction (0-10) an entry needs', 0, 10),
      tunableField(this.params, 'minConfidence', 'calibrated win probability an entry needs', 0.5, 1),
      tunableField(this.params, 'positionFraction', 'fraction of equity per entry, before the risk gate', 0.01, 1),
    ];
  }

  prime(batch: BarBatch): void {
    for (const [symbol, bar] of batch.bars) this.scan(symbol, batch.ts, bar, false);
  }

  decide(ctx: StrategyContext): StrategyDecision[] {
    const decisions: StrategyDecision[] = [];
    for (const symbol of ctx.symbols) {
      const bar = ctx.bar(symbol);
      if (!bar) {
        decisions.push({ symbol, features: {}, signal: { direction: 'no bar' }, intent: null });
        continue;
      }
      const scan = this.scan(symbol, ctx.ts, bar, true);
      const state = this.states.get(symbol)!;
      decisions.push({ symbol, features: scan.features, signal: this.signalRecord(scan, state), intent: this.intentFor(ctx, symbol, scan, state) });
    }
    return sellsFirst(decisions);
  }

  signals(): { signals: SignalView[]; note: string } {
    const c = this.tracker.status();
    const calibration = c.fitted
      ? `calibration ${c.method}, ${c.samples} outcomes, refitted ${c.refits}×, online ECE ${c.onlineEce === null ? 'n/a' : `${(c.onlineEce * 100).toFixed(1)}%`}`
      : `calibration ${c.method} still learning (${c.samples}/${this.config.tracker.minSamples} outcomes): confidence held at 50%`;
    const narrative = this.narrative ? 'narrative from news headlines' : `narrative absent (${this.narrativeAbsence})`;
    return { signals: [...this.states.values()].flatMap((s) => (s.latest ? [s.latest] : [])), note: `${calibration}; ${narrative}` };
  }

  private state(symbol: Symbol): SymbolState {
    let s = this.states.get(symbol);
    if (!s) {
      s = {
        hourly: new FeatureSet(),
        fourHour: new HigherTimeframeFeatureSet(),
        regime: new RegimeClassifier(),
        // 4-hour windows: 15 days of volatility, 7 days of volume
        fourHourRegime: new RegimeClassifier({ prefix: 'h4_', volWindow: 90, volumeWindow: 42 }),
        entry: new HysteresisTier(0.5, TIER_SCANS),
        exit: new HysteresisTier(0.5, TIER_SCANS),
        lastBuyTs: undefined,
        latest: undefined,
      };
      this.states.set(symbol, s);
    }
    return s;
  }

  /**
   * Everything about one symbol at the close of one bar. Learning happens here, so priming learns too; `report`
   * (false while priming) adds what only a decision needs: the merged feature record and the evidence lines.
   */
  private scan(symbol: Symbol, ts: number, bar: Bar, report: boolean): Scan {
    const s = this.state(symbol);
    this.tracker.resolve(symbol, ts, bar.close);
    const hourly = s.hourly.update(bar);
    const completed = s.fourHour.update(bar);
    if (completed) s.fourHourRegime.update(completed, s.fourHour.latestVolume ?? Number.NaN);
    const regime = s.regime.update(hourly, bar.volume);
    const fourHour = s.fourHour.latest;
    // the news known at the bar's close
    const narrative = this.narrative ? this.narrative.narrative(symbol, ts + HOUR_MS) : null;
    const signal = scoreSignal({ hourly, fourHour, regime, fourHourRegime: s.fourHourRegime.latest, narrative }, DEFAULT_MODEL_PARAMS);
    const policy = policyFor(regime, this.config.policies);
    const minConfidence = Math.max(this.params.minConfidence, policy.minConfidence);
    const features = report && fourHour ? merge(hourly, fourHour) : hourly;
    if (!signal) {
      s.entry.update(0);
      s.exit.update(0);
      s.latest = { symbol, ts, direction: 'warming', quality: 0, conviction: 0, confidence: 0.5, streak: 0, streakNeeded: TIER_SCANS, evidence: ['indicators are still warming up'] };
      return { features, signal: null, regime, calibrated: null, confidence: 0.5, hash: null, evidence: s.latest.evidence.slice(), sizeMultiplier: 0, minConfidence };
    }
    const hash = patternHash(signal, regime);
    const { calibrated, confidence } = signal.direction === 'flat' ? { calibrated: null, confidence: 0.5 } : this.tracker.confidence(signal.direction, signal.rawScore, hash);
    this.tracker.track(symbol, ts, bar.close, signal.direction, signal.rawScore, calibrated, hash);

    const meets = signal.quality >= this.params.minQuality && confidence >= minConfidence;
    s.entry.update(signal.direction === 'up' && meets && signal.conviction >= this.params.minConviction ? 1 : 0);
    s.exit.update(signal.direction === 'down' && meets ? 1 : 0);
    if (!report) return { features, signal, regime, calibrated, confidence, hash, evidence: [], sizeMultiplier: policy.sizeMultiplier, minConfidence };
    const evidence = evidenceLines({
      signal,
      regime,
      fourHourRegime: s.fourHourRegime.latest,
      narrativeAbsence: this.narrative ? 'no recent headlines about this coin' : this.narrativeAbsence,
      pattern: this.tracker.patterns.get(hash),
      patternSampleFloor: this.tracker.patterns.sampleFloor,
      calibrated: this.tracker.calibrated,
    });
    if (policy.sizeMultiplier <= 0 && signal.direction === 'up') evidence.push('this regime allows no new entries');
    s.latest = {
      symbol,
      ts,
      direction: signal.direction,
      quality: signal.quality,
      conviction: signal.conviction,
      confidence,
      streak: signal.direction === 'down' ? s.exit.consecutiveAbove : s.entry.consecutiveAbove,
      streakNeeded: TIER_SCANS,
      evidence,
    };
    return { features, signal, regime, calibrated, confidence, hash, evidence, sizeMultiplier: policy.sizeMultiplier, minConfidence };
  }

  /** The numbers behind the signal, for the decisions table. */
  private signalRecord(scan: Scan, state: SymbolState): Record<string, number | string | boolean | null> {
    const g = scan.signal;
    if (!g) return { direction: 'warming', evidence: scan.evidence.join('; ') };
    return {
      direction: g.direction,
      quality: g.quality,
      conviction: g.conviction,
      technical: g.technical,
      technicalHourly: g.technicalHourly,
      technicalFourHour: g.technicalFourHour,
      agreement: g.agreement,
      confirmation: g.confirmation,
      narrative: g.narrative,
      divergence: g.divergence,
      rawScore: g.rawScore,
      calibrated: scan.calibrated,
      confidence: scan.confidence,
      minConfidence: scan.minConfidence,
      pattern: scan.hash,
      volatility: scan.regime?.volatility ?? null,
      volatilityPercentile: scan.regime?.volatilityPercentile ?? null,
      trend: scan.regime?.trend ?? null,
      momentum: scan.regime?.momentum ?? null,
      volume: scan.regime?.volume ?? null,
      volumeZ: scan.regime?.volumeZ ?? null,
      sizeMultiplier: scan.sizeMultiplier,
      entryTier: state.entry.active,
      exitTier: state.exit.active,
      payoff: this.tracker.payoff,
      evidence: scan.evidence.join('; '),
    };
  }

  private intentFor(ctx: StrategyContext, symbol: Symbol, scan: Scan, state: SymbolState): OrderIntent | null {
    return longOnlyIntent(ctx, symbol, state, {
      label: 'confidence',
      entry: state.entry.active,
      exit: state.exit.active,
      horizonMs: this.config.tracker.horizonBars * HOUR_MS,
      fraction: this.params.positionFraction * scan.sizeMultiplier,
      edge: { winProbability: scan.confidence, payoff: this.tracker.payoff },
      reasons: { entry: 'an up signal met every threshold for two scans', exit: 'a down signal held for two scans' },
    });
  }

}

/** One record of both snapshots. A plain loop: spreading two objects of fifty-odd keys costs several times more. */
function merge(a: FeatureSnapshot, b: FeatureSnapshot): FeatureSnapshot {
  const out: FeatureSnapshot = {};
  for (const key in a) out[key] = a[key]!;
  for (const key in b) out[key] = b[key]!;
  return out;
}

