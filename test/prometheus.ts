/**
 * Parses Prometheus text exposition (0.0.4) strictly enough for tests: the library parses the structure, and
 * the checks below reject what it lets through (an untyped family, a value that is not a number, a timestamp
 * where none belongs, a bad metric or label name).
 */
import parse, { type ParsedFamily } from 'parse-prometheus-text-format';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Go's strconv.ParseFloat, which Prometheus uses: NaN and Inf in any letter case (prom-client writes "Nan").
const NUMBER = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?inf(?:inity)?|nan)$/i;

export function parsePrometheus(text: string): ParsedFamily[] {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = parse(text);
  for (const family of families) {
    if (!NAME.test(family.name)) throw new Error(`bad metric name ${family.name}`);
    if (family.type === 'UNTYPED') throw new Error(`${family.name} has no # TYPE line`);
    if (!family.help) throw new Error(`${family.name} has no # HELP text`);
    for (const sample of family.metrics) {
      if (sample.timestamp_ms !== undefined) throw new Error(`${family.name}: unexpected timestamp (or a value with spaces) "${sample.timestamp_ms}"`);
      for (const label of Object.keys(sample.labels ?? {})) if (!LABEL.test(label)) throw new Error(`${family.name}: bad label name ${label}`);
      const values = [sample.value, sample.count, sample.sum, ...Object.values(sample.buckets ?? {}), ...Object.values(sample.quantiles ?? {})].filter((v) => v !== undefined);
      for (const v of values) if (!NUMBER.test(v)) throw new Error(`${family.name}: value "${v}" is not a number`);
    }
  }
  return families;
}

/** The value of one sample: family name and, optionally, labels that must all match. */
export function sampleValue(families: readonly ParsedFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
}
