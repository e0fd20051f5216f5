/** The shape of bench/results.json. run.ts validates what it writes; test/bench.test.ts validates what it reads. */
import { z } from 'zod';

const num = z.number().nullable(); // JSON has no NaN: a figure without samples is null

export const targetSchema = z.strictObject({
  op: z.enum(['>=', '<=']),
  value: z.number(),
});

export const figureSchema = z.strictObject({
  label: z.string().min(1),
  unit: z.string().min(1),
  /** one value per repeat, in run order */
  repeats: z.array(num).min(1),
  median: num,
  target: targetSchema.nullable(),
  /** null when the figure has no target */
  met: z.boolean().nullable(),
  definition: z.string().min(1),
});

export type Figure = z.infer<typeof figureSchema>;

export const FIGURE_NAMES = [
  'pipelineBarsPerSecond',
  'referenceBarsPerSecond',
  'pipelineOverReference',
  'ensemblePipelineBarsPerSecond',
  'ensembleInferenceP50Us',
  'ensembleInferenceP99Us',
  'decisionP50Ms',
  'decisionP99Ms',
  'statusP50Ms',
  'statusP99Ms',
  'eventLoopLagP99Ms',
  'killPacedMs',
  'killUnpacedMs',
  'peakRssMb',
  'rssGrowthMb',
  'heapGrowthMb',
  'startupProcessMs',
  'startupInProcessMs',
] as const;

const replayWindowSchema = z.strictObject({
  budgetSecondsPerRepeat: z.number().positive(),
  batches: z.number().int().positive(),
  bars: z.number().int().positive(),
  replayTo: z.iso.datetime(),
  wholeWindow: z.boolean(),
});

export const benchResultSchema = z.strictObject({
  schemaVersion: z.literal(1),
  date: z.iso.datetime(),
  quick: z.boolean(),
  wallSeconds: z.number().positive(),
  command: z.string(),
  machine: z.strictObject({
    cpuModel: z.string(),
    cpus: z.number().int().positive(),
    node: z.string(),
    platform: z.string(),
    arch: z.string(),
    totalMemoryMb: z.number().positive(),
    loadAverageAtStart: z.array(z.number()),
    loadAverageAtEnd: z.array(z.number()),
  }),
  data: z.strictObject({
    kind: z.enum(['csv', 'embedded']),
    source: z.string(),
    symbols: z.array(z.string()).min(1),
    bars: z.number().int().positive(),
    batches: z.number().int().positive(),
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    allSymbolsFrom: z.iso.datetime(),
    load: z.strictObject({
      via: z.enum(['cache', 'csv', 'generated']),
      ms: z.number().nonnegative(),
      cacheHits: z.number().int().nonnegative(),
      cacheMisses: z.number().int().nonnegative(),
      cacheDir: z.string().optional(),
    }),
  }),
  workload: z.strictObject({
    repeats: z.number().int().positive(),
    primeBatches: z.number().int().nonnegative(),
    replayFrom: z.iso.datetime(),
    strategy: z.string(),
    riskProfile: z.string(),
    journal: z.string(),
    pipeline: replayWindowSchema,
    /** the model ensemble's figures; null when no model set could be loaded (a note says why) */
    ensemble: z
      .strictObject({
        modelsDir: z.string(),
        /** the manifest's createdAt */
        modelSet: z.string(),
        models: z.number().int().positive(),
        /** the manifest's featureKeys */
        inputs: z.number().int().positive(),
        pipeline: replayWindowSchema,
        inference: z.strictObject({
          /** symbols: one row each per call */
          rows: z.number().int().positive(),
          inputs: z.number().int().positive(),
          /** real: FeatureVectorizer vectors of the loaded bars; random: normal numbers of the same shape */
          batchSource: z.enum(['real', 'random']),
          distinctBatches: z.number().int().positive(),
          batchesFrom: z.iso.datetime().nullable(),
          batchesTo: z.iso.datetime().nullable(),
          warmupCalls: z.number().int().nonnegative(),
          callsPerRepeat: z.number().int().positive(),
        }),
      })
      .nullable(),
    statusIntervalMs: z.number().positive(),
    simBarsPerSecond: z.number().positive(),
  }),
  figures: z.strictObject(Object.fromEntries(FIGURE_NAMES.map((n) => [n, figureSchema])) as Record<(typeof FIGURE_NAMES)[number], typeof figureSchema>),
  targets: z.strictObject({ met: z.number().int().nonnegative(), total: z.number().int().nonnegative() }),
  /** per-scenario raw numbers behind the figures */
  details: z.record(z.string(), z.unknown()),
  notes: z.array(z.string()),
});

export type BenchResult = z.infer<typeof benchResultSchema>;
