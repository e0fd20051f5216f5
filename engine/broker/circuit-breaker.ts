/**
 * A circuit breaker per endpoint group of an external API: after `threshold` consecutive failures it opens and
 * refuses calls at once (no piling onto a failing service) until `cooldownMs` has passed; then one probe call
 * is let through (half-open): success closes it, failure opens it again.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export class CircuitOpenError extends Error {
  constructor(
    readonly group: string,
    readonly retryAt: number,
  ) {
    super(`${group}: circuit open after repeated failures; next try at ${new Date(retryAt).toISOString()}`);
    this.name = 'CircuitOpenError';
  }
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private probing = false;

  constructor(
    readonly group: string,
    private readonly threshold = 3,
    private readonly cooldownMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /** For /health: "trading: closed", "data: open (2 s left)". */
  describe(): string {
    const state = this.state;
    if (state !== 'open') return `${this.group}: ${state}`;
    return `${this.group}: OPEN (${Math.ceil((this.openedAt! + this.cooldownMs - this.now()) / 1000)} s left, ${this.failures} failures)`;
  }

  /**
   * Run `call` through the breaker. `isFailure` decides which errors count (a 4xx from a bad request is our
   * fault, not the service's, and should not open the circuit).
   */
  async run<T>(call: () => Promise<T>, isFailure: (error: unknown) => boolean = () => true): Promise<T> {
    const state = this.state;
    if (state === 'open' || (state === 'half-open' && this.probing)) throw new CircuitOpenError(this.group, this.openedAt! + this.cooldownMs);
    if (state === 'half-open') this.probing = true;
    try {
      const result = await call();
      this.failures = 0;
      this.openedAt = undefined;
      return result;
    } catch (error) {
      if (isFailure(error)) {
        this.failures += 1;
        if (state === 'half-open' || this.failures >= this.threshold) this.openedAt = this.now();
      }
      throw error;
    } finally {
      if (state === 'half-open') this.probing = false;
    }
  }
}
