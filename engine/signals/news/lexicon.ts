/**
 * Offline, finance- and crypto-aware lexicon scorer for news headlines. No network, no model: a hand-written word
 * list with polarities, multi-word phrases matched before single words, negation ("not", "no", "denies", "fails to"
 * flip the next 3 tokens) and intensifiers/diminishers. Deterministic, so it is safe to use in backtests.
 */

export interface HeadlineScore {
  /** −1..1; 0 when nothing matched. */
  readonly score: number;
  /** Lexicon terms that matched, in order; negated terms are prefixed with '!'. */
  readonly matched: string[];
}

/** Polarity of each term, roughly −3..3. Keys are lower-case base forms; multi-word keys are phrases. */
const TERMS: Readonly<Record<string, number>> = {
  // ---- positive phrases
  'etf approval': 3,
  'approves etf': 3,
  'all time high': 2.5,
  'record high': 2.5,
  'new high': 2,
  'bull run': 2,
  'bull market': 1.5,
  'short squeeze': 1.5,
  'rate cut': 1,
  'beat expectation': 1.5,
  'beat estimate': 1.5,
  'green light': 2,
  'back on track': 1,
  'net inflow': 2,
  'regulatory clarity': 1.5,
  'strategic reserve': 2,
  'buy the dip': 1,
  'price target raise': 1.5,
  'raise price target': 1.5,
  // ---- positive words
  surge: 2, soar: 2.5, rally: 2, skyrocket: 2.5, jump: 1.5, climb: 1.5, rise: 1, gain: 1, rebound: 1.5, recover: 1.5,
  recovery: 1.5, spike: 1.5, advance: 1, outperform: 1.5, breakout: 1.5, moon: 1.5,
  approve: 2, approval: 2, greenlight: 2, adopt: 1.5, adoption: 1.5, partnership: 1.5, partner: 1, upgrade: 1.5,
  inflow: 1.5, bullish: 2, boost: 1.5, milestone: 1.5, expand: 1, expansion: 1, launch: 0.5, integrate: 1,
  integration: 1, accumulate: 1, accumulation: 1, profit: 1, profitable: 1.5, growth: 1, strong: 1, robust: 1,
  optimism: 1.5, optimistic: 1.5, win: 1.5, victory: 1.5, acquire: 0.5, backing: 1, endorse: 1.5, legalize: 2,
  embrace: 1.5, invest: 1, upbeat: 1.5, resume: 1, reopen: 1, restore: 1, secure: 0.5,
  // ---- negative phrases
  'sec sue': -3,
  'sec charge': -2.5,
  'rug pull': -3,
  'record low': -2.5,
  'bear market': -1.5,
  'rate hike': -1,
  'sell off': -2,
  'halt withdrawal': -3,
  'pause withdrawal': -3,
  'freeze withdrawal': -3,
  'net outflow': -2,
  'miss expectation': -1.5,
  'miss estimate': -1.5,
  'cut price target': -1.5,
  'price target cut': -1.5,
  'ponzi scheme': -3,
  'class action': -2,
  'security breach': -2.5,
  'data breach': -2.5,
  'death cross': -1.5,
  // ---- negative words
  hack: -2.5, hacker: -2, exploit: -2.5, breach: -2, drain: -2, stolen: -2.5, steal: -2.5, theft: -2.5, attack: -2,
  lawsuit: -2, sue: -2, ban: -2.5, crackdown: -2.5, plunge: -2.5, crash: -2.5, tumble: -2, slump: -2, sink: -2,
  slide: -1.5, drop: -1.5, fall: -1.5, decline: -1.5, dip: -1, slip: -1, tank: -2, dump: -1.5, selloff: -2,
  outflow: -1.5, delist: -2.5, insolvent: -3, insolvency: -3, bankrupt: -3, bankruptcy: -3, liquidation: -2,
  liquidate: -2, fraud: -3, scam: -3, ponzi: -3, probe: -1.5, investigation: -1.5, investigate: -1.5, subpoena: -1.5,
  charge: -1, indict: -2.5, indictment: -2.5, arrest: -2, fined: -2, penalty: -2, sanction: -2,
  reject: -2, rejection: -2, delay: -1, postpone: -1, halt: -2, suspend: -2, freeze: -1.5, collapse: -3,
  default: -2.5, depeg: -2.5, outage: -1.5, downtime: -1.5, bearish: -2, fear: -1.5, panic: -2, warn: -1.5,
  warning: -1.5, risk: -0.5, loss: -1.5, lose: -1.5, layoff: -1.5, downgrade: -1.5, weak: -1, concern: -1,
  capitulation: -2, exodus: -2, vulnerability: -1.5, turmoil: -2, contagion: -2.5, slash: -1.5, miss: -1,
  fail: -1.5, failure: -2, uncertainty: -1, volatility: -0.5, shutdown: -2, manipulation: -2, illegal: -2,
};

/** Words that flip the polarity of terms starting within the next NEGATION_WINDOW tokens. */
const NEGATORS: readonly string[][] = [
  ['not'], ['no'], ['never'], ['nor'], ['without'], ['cannot'], ['cant'], ['wont'], ['dont'], ['doesnt'], ['didnt'],
  ['isnt'], ['arent'], ['wasnt'], ['werent'], ['hasnt'], ['havent'], ['deny'], ['denies'], ['denied'], ['denying'],
  ['refute'], ['refutes'], ['refuted'], ['dismiss'], ['dismisses'], ['dismissed'], ['rule', 'out'], ['rules', 'out'],
  ['ruled', 'out'], ['fail', 'to'], ['fails', 'to'], ['failed', 'to'], ['failing', 'to'], ['unlikely', 'to'],
  ['no', 'longer'],
];
const NEGATION_WINDOW = 3;

const INTENSIFIERS: Readonly<Record<string, number>> = {
  massive: 1.5, huge: 1.5, major: 1.3, sharply: 1.5, sharp: 1.5, biggest: 1.5, largest: 1.5, record: 1.4,
  significantly: 1.4, heavily: 1.4, very: 1.3, extremely: 1.6, historic: 1.5, unprecedented: 1.5, steep: 1.4,
  dramatically: 1.5, big: 1.2, strongly: 1.3,
  slightly: 0.5, modest: 0.6, modestly: 0.6, minor: 0.5, marginally: 0.5, small: 0.7, mild: 0.6, mildly: 0.6,
};
const INTENSIFIER_WINDOW = 2;

/** Lower-case, drop apostrophes (doesn't → doesnt), split on anything that is not a letter or digit. */
export function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/['’`]/g, '')
    .split(/[^a-z0-9]+/)
    .filter((t) => t.length > 0);
}

/** Candidate base forms of a token: itself plus crude suffix strips (surged → surge, hacks → hack, slipped → slip). */
function forms(token: string): string[] {
  const out = [token];
  const add = (s: string): void => {
    if (s.length >= 2 && !out.includes(s)) out.push(s);
  };
  if (token.endsWith('ies')) add(token.slice(0, -3) + 'y');
  if (token.endsWith('ied')) add(token.slice(0, -3) + 'y');
  if (token.endsWith('es')) add(token.slice(0, -2));
  if (token.endsWith('s') && !token.endsWith('ss')) add(token.slice(0, -1));
  if (token.endsWith('ed')) {
    const stem = token.slice(0, -2);
    add(stem);
    add(token.slice(0, -1));
    if (stem.length > 2 && stem[stem.length - 1] === stem[stem.length - 2]) add(stem.slice(0, -1));
  }
  if (token.endsWith('ing')) {
    const stem = token.slice(0, -3);
    add(stem);
    add(stem + 'e');
    if (stem.length > 2 && stem[stem.length - 1] === stem[stem.length - 2]) add(stem.slice(0, -1));
  }
  return out;
}

interface Phrase {
  readonly key: string;
  readonly words: readonly string[];
  readonly polarity: number;
}

/** Longest phrases first so multi-word entries win over their parts. */
const PHRASES: readonly Phrase[] = Object.entries(TERMS)
  .map(([key, polarity]) => ({ key, words: key.split(' '), polarity }))
  .sort((a, b) => b.words.length - a.words.length);

function wordMatches(token: string, word: string): boolean {
  return forms(token).includes(word);
}

function matchAt(tokens: readonly string[], i: number, words: readonly string[], exact = false): boolean {
  if (i + words.length > tokens.length) return false;
  return words.every((w, k) => {
    const t = tokens[i + k]!;
    return exact ? t === w : wordMatches(t, w);
  });
}

/** Squash an unbounded sum of polarities into −1..1 (VADER-style). */
function normalize(sum: number, alpha = 4): number {
  if (sum === 0) return 0;
  const s = sum / Math.sqrt(sum * sum + alpha);
  return Math.max(-1, Math.min(1, s));
}

export function scoreHeadline(text: string): HeadlineScore {
  const tokens = tokenize(text);
  const matched: string[] = [];
  let negateUntil = -1; // tokens with index <= negateUntil are negated
  let boost = 1;
  let boostUntil = -1;
  let sum = 0;
  let i = 0;
  while (i < tokens.length) {
    // Negators first: a negator phrase ("fails to") opens a window over the following tokens.
    const neg = NEGATORS.filter((n) => matchAt(tokens, i, n, true)).sort((a, b) => b.length - a.length)[0];
    if (neg !== undefined) {
      const end = i + neg.length - 1;
      negateUntil = end + NEGATION_WINDOW;
      i = end + 1;
      continue;
    }
    const phrase = PHRASES.find((p) => matchAt(tokens, i, p.words));
    const intens = INTENSIFIERS[tokens[i]!];
    if (phrase !== undefined && phrase.polarity !== 0) {
      const negated = i <= negateUntil;
      const factor = i <= boostUntil ? boost : 1;
      sum += (negated ? -1 : 1) * phrase.polarity * factor;
      matched.push(negated ? `!${phrase.key}` : phrase.key);
      i += phrase.words.length;
      continue;
    }
    if (intens !== undefined) {
      boost = intens;
      boostUntil = i + INTENSIFIER_WINDOW;
    }
    i += 1;
  }
  return { score: normalize(sum), matched };
}
