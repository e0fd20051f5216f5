/** Runs the real CLI (`src/main.ts start`) as a child process and lets a test talk to its console chat. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export class AgentProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(args: readonly string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: REPO_ROOT,
      // No health HTTP unless a test asks: CLI agents run in parallel and would contend for one port.
      env: { ...process.env, APCA_API_KEY_ID: '', APCA_API_SECRET_KEY: '', CE_HTTP_PORT: '0', ...env },
    });
    this.child.stdout.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Wait until stdout after `from` matches; returns the match. Fails with the output so far. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.stdout.slice(from).match(pattern);
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Send a command and wait for the reply matching `pattern` after it. */
  async ask(line: string, pattern: RegExp): Promise<RegExpMatchArray> {
    const from = this.stdout.length;
    this.send(line);
    return this.waitFor(pattern, from);
  }

  exit(): Promise<number | null> {
    return this.exited;
  }
}
