import { describe, expect, it } from 'vitest';
import { CircuitBreaker, CircuitOpenError } from './circuit-breaker.js';

const fail = () => Promise.reject(new Error('503'));
const ok = () => Promise.resolve('ok');

describe('CircuitBreaker', () => {
  it('opens after 3 consecutive failures, refuses until 60 s pass, then lets one probe through', async () => {
    let now = 0;
    const breaker = new CircuitBreaker('trading', 3, 60_000, () => now);
    await expect(breaker.run(fail)).rejects.toThrow('503');
    await expect(breaker.run(fail)).rejects.toThrow('503');
    expect(breaker.state).toBe('closed');
    await expect(breaker.run(fail)).rejects.toThrow('503');
    expect(breaker.state).toBe('open');
    let called = false;
    await expect(breaker.run(async () => ((called = true), 'x'))).rejects.toBeInstanceOf(CircuitOpenError);
    expect(called).toBe(false);
    expect(breaker.describe()).toMatch(/^trading: OPEN \(60 s left, 3 failures\)$/);
    now += 59_999;
    expect(breaker.state).toBe('open');
    now += 1;
    expect(breaker.state).toBe('half-open');
    await expect(breaker.run(ok)).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('a failed probe opens it again at once; a success in between resets the count', async () => {
    let now = 0;
    const breaker = new CircuitBreaker('data', 3, 60_000, () => now);
    await expect(breaker.run(fail)).rejects.toThrow();
    await expect(breaker.run(fail)).rejects.toThrow();
    await breaker.run(ok);
    await expect(breaker.run(fail)).rejects.toThrow();
    await expect(breaker.run(fail)).rejects.toThrow();
    expect(breaker.state).toBe('closed'); // the success reset the streak
    await expect(breaker.run(fail)).rejects.toThrow();
    now += 60_000;
    await expect(breaker.run(fail)).rejects.toThrow('503'); // the probe
    expect(breaker.state).toBe('open');
  });

  it('errors that are not the service’s fault do not count', async () => {
    const breaker = new CircuitBreaker('trading');
    for (let i = 0; i < 5; i++) await expect(breaker.run(() => Promise.reject(new Error('422')), () => false)).rejects.toThrow('422');
    expect(breaker.state).toBe('closed');
  });
});
