/**
 * Summarize a V8 .cpuprofile (or the biggest one in a folder): self and inclusive time per function, as a
 * percentage of all samples. `npx tsx bench/profile-summary.ts FILE|DIR [--top N]`
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface HotSpot {
  readonly name: string;
  readonly percent: number;
}

export function summarize(profile: CpuProfile): { totalMs: number; self: HotSpot[]; inclusive: HotSpot[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfTime = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    selfTime.set(id, (selfTime.get(id) ?? 0) + dt);
    total += dt;
  });
  const key = (n: ProfileNode) => {
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'node_modules/').replace(/^.*?\/(engine|src|bot|bench|reports)\//, '$1/');
    return `${n.callFrame.functionName || '(anonymous)'}${url ? ` ${url}` : ''}`;
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, t] of selfTime) {
    const node = byId.get(id)!;
    self.set(key(node), (self.get(key(node)) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (seen.has(k)) continue; // recursion counts once
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
  }
  const ranked = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([name, t]) => ({ name, percent: (100 * t) / total }));
  return { totalMs: total / 1000, self: ranked(self), inclusive: ranked(inclusive) };
}

function pickFile(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const files = readdirSync(path).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(path, f));
  if (files.length === 0) throw new Error(`no .cpuprofile in ${path}`);
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [path, ...rest] = process.argv.slice(2);
  if (!path) throw new Error('usage: profile-summary.ts FILE|DIR [--top N]');
  const top = Number(rest[rest.indexOf('--top') + 1] ?? 30) || 30;
  const file = pickFile(path);
  const s = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const show = (list: HotSpot[]) => list.slice(0, top).map((h) => `${h.percent.toFixed(1).padStart(5)}%  ${h.name}`).join('\n');
  process.stdout.write(`${file}: ${s.totalMs.toFixed(0)} ms sampled\n\nself time\n${show(s.self)}\n\ninclusive time\n${show(s.inclusive)}\n`);
}
