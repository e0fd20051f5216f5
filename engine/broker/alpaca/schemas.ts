/**
 * zod schemas for what the Alpaca SDK hands back. The SDK maps JSON to camelCase but does not validate it, so a
 * missing field or a string where a number belongs stops here with a clear message, not deep in the engine.
 * Amounts arrive as decimal strings; they become numbers here.
 */
import { z } from 'zod';

/** A decimal string (or number) that must be a finite number. */
const decimal = z
  .union([z.string(), z.number()], { error: (issue) => (issue.input === undefined || issue.input === null ? 'missing' : `expected a decimal number, got ${JSON.stringify(issue.input)}`) })
  .transform((v, ctx) => {
    const n = typeof v === 'number' ? v : v.trim() === '' ? Number.NaN : Number(v);
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: `expected a decimal number, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });
const optionalDecimal = decimal.nullish().transform((v) => v ?? undefined);

export const accountSchema = z.object({
  status: z.string(),
  cash: decimal,
  equity: decimal,
  currency: z.string().optional(),
});

export const positionSchema = z.object({
  symbol: z.string().min(1),
  qty: decimal,
  avgEntryPrice: decimal,
});

export const orderSchema = z.object({
  id: z.string().min(1),
  clientOrderId: z.string().min(1),
  symbol: z.string().min(1),
  side: z.enum(['buy', 'sell']),
  status: z.string().min(1),
  qty: optionalDecimal,
  notional: optionalDecimal,
  filledQty: optionalDecimal,
  filledAvgPrice: optionalDecimal,
  limitPrice: optionalDecimal,
});
export type AlpacaOrder = z.infer<typeof orderSchema>;

export const assetSchema = z.object({
  minOrderSize: optionalDecimal,
  minTradeIncrement: optionalDecimal,
  tradable: z.boolean().optional(),
});

export const tradeUpdateSchema = z.object({
  event: z.string(),
  order: orderSchema,
  price: optionalDecimal,
  qty: optionalDecimal,
  executionId: z.string().optional().nullable(),
  timestamp: z.union([z.date(), z.string()]).optional(),
});

export const barSchema = z.object({
  open: z.number().positive(),
  high: z.number().positive(),
  low: z.number().positive(),
  close: z.number().positive(),
  volume: z.number().nonnegative(),
  timestamp: z.union([z.date(), z.string()]).transform((v) => (v instanceof Date ? v.getTime() : Date.parse(v))).pipe(z.number().finite()),
});

/** Parse or throw a message naming what came from where: "Alpaca GET /v2/account: cash: expected a decimal…". */
export function parseAt<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new AlpacaResponseError(`Alpaca ${where}: ${issue.path.join('.') || '(body)'}: ${issue.message}`);
}

export class AlpacaResponseError extends Error {
  override name = 'AlpacaResponseError';
}
