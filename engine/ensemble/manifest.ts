/** models/manifest.json: which model set is deployed, in what input order, and the sha256 of every file. */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const MANIFEST_FILE = 'manifest.json';

const sha = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 in hex');

export const manifestSchema = z.object({
  version: z.literal(1),
  createdAt: z.string(),
  /** the merged graph's input order (a subset of FEATURE_KEYS) */
  featureKeys: z.array(z.string()).min(1),
  ensemble: z.object({ file: z.string(), sha256: sha }),
  models: z
    .array(
      z.object({
        id: z.string(),
        trialId: z.number().int(),
        file: z.string(),
        sha256: sha,
        horizonBars: z.number().int().positive(),
        featureKeys: z.array(z.string()).min(1),
        metrics: z.record(z.string(), z.union([z.number(), z.string(), z.null()])),
      }),
    )
    .min(1),
});

export type Manifest = z.infer<typeof manifestSchema>;

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
