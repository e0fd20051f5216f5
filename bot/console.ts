/**
 * The console transport: the same chat as Telegram, on stdin/stdout, with no network. Whoever sits at the
 * machine's terminal is the operator.
 */
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { CommandCore } from './dispatch.js';
import type { Channel } from './notifier.js';
import type { Actor } from './registry.js';

export const CONSOLE_ACTOR: Actor = { transport: 'console', id: 'local', role: 'operator' };

export class ConsoleTransport implements Channel {
  readonly name = 'console';
  private rl: Interface | undefined;

  constructor(
    private readonly core: CommandCore,
    private readonly tag: string,
    private readonly input: Readable,
    private readonly output: Writable,
  ) {}

  /**
   * Start reading commands. `onEnd` runs when input ends (the agent keeps running). Ctrl-C reaches the process
   * as SIGINT (this reader is not a raw terminal), and main.ts stops the agent on it.
   */
  start(handlers: { onEnd: () => void }): void {
    this.rl = createInterface({ input: this.input, terminal: false });
    this.rl.on('line', (line) => {
      if (line.trim() === '') return;
      void this.core.handle({ actor: CONSOLE_ACTOR, text: line }).then((reply) => {
        if (reply) this.write(reply.text);
      });
    });
    this.rl.on('close', handlers.onEnd);
  }

  stop(): void {
    this.rl?.removeAllListeners('close'); // closing at shutdown is not "input ended"
    this.rl?.close();
  }

  async send(text: string): Promise<void> {
    this.output.write(`${text}\n`);
  }

  private write(text: string): void {
    this.output.write(`${this.tag} ${text.split('\n').join(`\n${' '.repeat(this.tag.length + 1)}`)}\n`);
  }
}
