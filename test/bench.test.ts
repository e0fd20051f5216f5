/**
 * `npm run bench -- --quick` must keep working: it completes and writes JSON of the documented shape. Speed is
 * the benchmark's business (bench/results.json), never a timed assertion here.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { benchResultSchema, FIGURE_NAMES } from '../bench/schema.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMMITTED_RESULTS = join(REPO_ROOT, 'bench', 'results.json');

function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'fatal' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run bench -- --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ce-bench-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('completes, prints the table and writes valid JSON to --out, leaving bench/results.json alone', async () => {
    const before = existsSync(COMMITTED_RESULTS) ? statSync(COMMITTED_RESULTS).mtimeMs : undefined;
    const out = join(dir, 'results.json');
    const { code, stdout, stderr } = await run(['--quick', '--out', out]);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toContain('Full pipeline replay');
    expect(stdout).toContain(`wrote ${out}`);

    const result = benchResultSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect(result.quick).toBe(true);
    expect(Object.keys(result.figures).sort()).toEqual([...FIGURE_NAMES].sort());
    for (const name of FIGURE_NAMES) {
      const f = result.figures[name];
      expect(f.repeats.length, name).toBeGreaterThanOrEqual(1);
      expect(f.median, name).not.toBeNull();
      expect(f.met === null, name).toBe(f.target === null);
    }
    expect(result.workload.pipeline.bars).toBeGreaterThan(0);
    expect(result.data.symbols.length).toBeGreaterThan(0);

    expect(existsSync(COMMITTED_RESULTS) ? statSync(COMMITTED_RESULTS).mtimeMs : undefined).toBe(before);
  }, 120_000);

  it('refuses unknown arguments with a usage line and exit code 2', async () => {
    const { code, stderr } = await run(['--fast']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown argument --fast/);
  }, 60_000);
});
