/**
 * CPU profile of the full pipeline alone (no other scenario), for finding hot spots:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/ce-prof --import tsx bench/profile.ts [--seconds 20] [--mode backtest|sim] [--data DIR|embedded]
 *   npx tsx bench/profile-summary.ts /tmp/ce-prof
 *
 * tsx runs a loader worker that writes its own small profile; the summary picks the biggest file.
 */
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { SHARED_DATA_DIR } from './bench.js';
import { dataDirExists, DEFAULT_SYMBOLS, embeddedData, loadCsvData } from './data.js';
import { buildRig } from './rig.js';
import { replayStart } from './scenarios.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const seconds = Number(flag('--seconds', '20'));
const mode = flag('--mode', 'backtest') === 'sim' ? 'sim' : 'backtest';
const dataArg = flag('--data', SHARED_DATA_DIR);
const data = dataArg !== 'embedded' && dataDirExists(resolve(dataArg)) ? loadCsvData(resolve(dataArg)) : embeddedData(DEFAULT_SYMBOLS, 38_000);
const { config: base } = loadConfig({});
const config = { ...base, universe: [...data.symbols], strategy: { ...base.strategy, name: 'confidence' as const }, risk: { ...base.risk, profile: 'full' as const } };
const log = createLogger('fatal', new Writable({ write: (_c, _e, done) => done() }));
const rig = await buildRig({ config, data, mode, log, primeBatches: 1_000, fromTs: replayStart(data, 1_000), maxBatches: Number.MAX_SAFE_INTEGER });
const abort = new AbortController();
const started = performance.now();
await rig.run({
  barsPerSecond: 0,
  signal: abort.signal,
  afterBatch: () => {
    if (performance.now() - started >= seconds * 1000) abort.abort();
  },
});
const elapsed = (performance.now() - started) / 1000;
await rig.close();
process.stdout.write(`${mode}: ${rig.feed.bars} bars in ${elapsed.toFixed(1)} s = ${Math.round(rig.feed.bars / elapsed)} bars/s\n`);
