/** A StatusView with every field filled, for tests of what reads the engine's status (health, metrics). */
import type { EngineApi, StatusView } from '../engine/api.js';

export function statusView(overrides: Partial<StatusView> = {}): StatusView {
  return {
    mode: 'sim',
    risk: { state: 'ACTIVE', since: 0, by: 'system', reason: 'start' },
    market: 'test market',
    broker: 'simulated broker',
    strategy: 'buyhold',
    marketTime: undefined,
    equity: 10_500,
    cash: 4_000,
    startingEquity: 10_000,
    dayPnl: 120,
    positions: [],
    openOrders: 1,
    lastDecisionAt: undefined,
    health: { inboxDepth: 0, barsProcessed: 0, lastBarWallTime: undefined },
    riskUsage: { exposure: 0.62, largestAsset: 0.3, openPositions: 2, var95: 0.01, maxCorrelation: undefined, dayPnlFraction: 0.01, totalPnlFraction: 0.05, drawdown: 0.02, tradesToday: 1, recentRiskEvents: [] },
    ...overrides,
  };
}

/** Only status() is reachable; anything else the code under test calls fails loudly. */
export function engineWithStatus(status: () => StatusView): EngineApi {
  return new Proxy({ status } as unknown as EngineApi, {
    get(target, key) {
      if (key === 'status') return status;
      if (key === 'then') return undefined;
      throw new Error(`the test engine has no ${String(key)}`);
    },
  });
}
