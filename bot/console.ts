/**
 * The console transport: the same chat as Telegram, on stdin/stdout, with no network. Whoever sits at the
 * machine's terminal is the operator.
 */
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { CommandCore } from './dispatch.js';
import type { NotificationImage } from '../engine/ports.js';
import type { Channel } from './notifier.js';
import type { Actor, Reply } from './registry.js';

export const CONSOLE_ACTOR: Actor = { transport: 'console', id: 'local', role: 'operator' };

export class ConsoleTransport implements Channel {
  readonly name = 'console';
  private rl: Interface | undefined;

  constructor(
    private readonly core: CommandCore,
    private readonly tag: string,
    private readonly input: Readable,
    private readonly output: Writable,
    /** saves a picture (a chart) where the operator can open it; returns its path */
    private readonly saveImage?: (image: NotificationImage) => string,
  ) {}

  /**
   * Start reading commands. `onEnd` runs when input ends (the agent keeps running). Ctrl-C reaches the process
   * as SIGINT (this reader is not a raw terminal), and main.ts stops the agent on it.
   */
  start(handlers: { onEnd: () => void }): void {
    this.rl = createInterface({ input: this.input, terminal: false });
    this.rl.on('line', (line) => {
      if (line.trim() === '') return;
      void this.core.handle({ actor: CONSOLE_ACTOR, text: line }).then((reply) => (reply ? this.show(reply) : undefined));
    });
    this.rl.on('close', handlers.onEnd);
  }

  stop(): void {
    this.rl?.removeAllListeners('close'); // closing at shutdown is not "input ended"
    this.rl?.close();
  }

  async send(text: string, image?: NotificationImage): Promise<void> {
    this.output.write(`${text}${image ? `\n${this.imageLine(image)}` : ''}\n`);
  }

  /** A terminal cannot show a picture or edit a line: the picture is saved, a streamed answer printed whole. */
  private async show(reply: Reply): Promise<void> {
    if (reply.stream) {
      this.write(reply.text);
      this.write(await reply.stream(() => undefined));
      return;
    }
    this.write(reply.image ? `${reply.text}\n${this.imageLine(reply.image)}` : reply.text);
  }

  private imageLine(image: NotificationImage): string {
    if (!this.saveImage) return `(chart ${image.filename} not saved: no folder for pictures)`;
    try {
      return `chart: ${this.saveImage(image)}`;
    } catch (error) {
      return `(chart ${image.filename} could not be saved: ${error instanceof Error ? error.message : String(error)})`;
    }
  }

  private write(text: string): void {
    this.output.write(`${this.tag} ${text.split('\n').join(`\n${' '.repeat(this.tag.length + 1)}`)}\n`);
  }
}
