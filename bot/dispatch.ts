/**
 * The dispatch core, shared by every transport:
 * authorize → parse arguments (zod) → audit "requested" → confirm if needed → run → audit the outcome.
 * People on no list get no reply at all (silence reveals nothing); their attempt is audited and alerted.
 */
import { randomBytes } from 'node:crypto';
import type { EngineApi } from '../engine/api.js';
import type { Notifier } from '../engine/ports.js';
import type { Actor, AuditLog, CommandDef, Reply } from './registry.js';
import { usage } from './registry.js';

export interface Invocation {
  readonly actor: Actor;
  /** the raw message, e.g. "/pause 2h" */
  readonly text: string;
}

interface PendingConfirmation {
  readonly command: CommandDef;
  readonly args: Record<string, unknown>;
  readonly rawArgs: readonly string[];
  readonly actor: Actor;
  readonly expiresAt: number;
}

export interface DispatchOptions {
  readonly confirmTtlMs: number;
  readonly now?: () => number;
}

const MAX_TEXT = 1_000;

export class CommandCore {
  private readonly byName: ReadonlyMap<string, CommandDef>;
  private readonly pending = new Map<string, PendingConfirmation>();
  private readonly now: () => number;

  constructor(
    private readonly api: EngineApi,
    readonly commands: readonly CommandDef[],
    private readonly audit: AuditLog,
    private readonly alerts: Notifier,
    private readonly options: DispatchOptions,
  ) {
    this.byName = new Map(commands.map((c) => [c.name, c]));
    this.now = options.now ?? Date.now;
  }

  /** Handle one message. Resolves to the reply, or undefined when the sender must be ignored. */
  async handle({ actor, text }: Invocation): Promise<Reply | undefined> {
    const { name, args } = tokenize(text);
    if (actor.role === null) return this.ignoreStranger(actor, text, name, args);
    if (name === undefined) return { text: 'Commands start with "/". Send /help for the list.' };
    if (name === 'confirm') return this.confirm(args[0] ?? '', actor);
    const command = this.byName.get(name);
    if (!command) {
      this.record(actor, name, args, 'unknown');
      return { text: `Unknown command /${clip(name, 32)}. Send /help for the list.` };
    }
    if (command.role === 'operator' && actor.role !== 'operator') {
      this.record(actor, name, args, 'denied', 'needs operator role');
      return { text: `/${name} needs the operator role; you are a ${actor.role}.` };
    }
    const parsed = parseArgs(command, args);
    if (!parsed.ok) {
      this.record(actor, name, args, 'invalid', parsed.error);
      return { text: parsed.error };
    }
    if (command.roleFor?.(parsed.args) === 'operator' && actor.role !== 'operator') {
      this.record(actor, name, args, 'denied', 'needs operator role for these arguments');
      return { text: `Changing this with /${name} needs the operator role; you are a ${actor.role}.` };
    }
    this.record(actor, name, args, 'requested');
    const prompt = command.confirm?.(this.api, parsed.args);
    if (prompt !== undefined) {
      const token = randomBytes(4).toString('hex');
      this.pending.set(token, { command, args: parsed.args, rawArgs: args, actor, expiresAt: this.now() + this.options.confirmTtlMs });
      this.record(actor, name, args, 'awaiting-confirmation', `token ${token}`);
      const seconds = Math.round(this.options.confirmTtlMs / 1000);
      return { text: `${prompt}\nConfirm within ${seconds} s with: /confirm ${token}`, confirmToken: token };
    }
    return this.execute(command, parsed.args, args, actor);
  }

  /**
   * A confirmation is valid once, for the same person, within the TTL, and their role is checked again.
   * Someone on no list pressing a button gets silence, like any other message from them.
   */
  async confirm(token: string, actor: Actor): Promise<Reply | undefined> {
    if (actor.role === null) return this.ignoreStranger(actor, `confirm ${token}`, 'confirm', [token]);
    this.dropExpired();
    const pending = this.pending.get(token);
    if (!pending) {
      this.record(actor, 'confirm', [token], 'expired', 'no such pending confirmation');
      return { text: 'That confirmation is unknown or expired. Send the command again.' };
    }
    if (pending.actor.transport !== actor.transport || pending.actor.id !== actor.id) {
      this.record(actor, pending.command.name, pending.rawArgs, 'denied', `confirmation belongs to ${pending.actor.transport}:${pending.actor.id}`);
      return { text: 'This confirmation belongs to someone else.' };
    }
    if ((pending.command.roleFor?.(pending.args) ?? pending.command.role) === 'operator' && actor.role !== 'operator') {
      this.pending.delete(token);
      this.record(actor, pending.command.name, pending.rawArgs, 'denied', 'role lost before confirmation');
      return { text: `/${pending.command.name} needs the operator role.` };
    }
    this.pending.delete(token);
    // On record before it runs: a crash during a long kill still shows who confirmed it.
    this.record(actor, pending.command.name, pending.rawArgs, 'confirmed', `token ${token}`);
    return this.execute(pending.command, pending.args, pending.rawArgs, actor);
  }

  /** The Cancel button: only the person who asked can withdraw it. */
  async cancel(token: string, actor: Actor): Promise<Reply | undefined> {
    if (actor.role === null) return this.ignoreStranger(actor, `cancel ${token}`, 'cancel', [token]);
    const pending = this.pending.get(token);
    if (!pending || pending.actor.transport !== actor.transport || pending.actor.id !== actor.id) {
      return { text: pending ? 'This confirmation belongs to someone else.' : 'Nothing to cancel: it expired or was already answered.' };
    }
    this.pending.delete(token);
    this.record(actor, pending.command.name, pending.rawArgs, 'canceled');
    return { text: `/${pending.command.name} canceled.` };
  }

  private ignoreStranger(actor: Actor, text: string, name?: string, args: readonly string[] = []): undefined {
    this.record(actor, name ?? '(text)', args, 'unauthorized', clip(text, 200));
    this.alerts.notify('critical', `Unauthorized ${actor.transport} user ${actor.id}${actor.chatId ? ` in chat ${actor.chatId}` : ''} tried "${clip(text, 60)}". Ignored.`);
    return undefined;
  }

  private async execute(command: CommandDef, args: Record<string, unknown>, rawArgs: readonly string[], actor: Actor): Promise<Reply> {
    try {
      const reply = await command.run(this.api, args, actor);
      this.record(actor, command.name, rawArgs, 'ok');
      return reply;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.record(actor, command.name, rawArgs, 'error', message);
      return { text: `/${command.name} failed: ${message}` };
    }
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [token, p] of this.pending) {
      if (now >= p.expiresAt) {
        this.pending.delete(token);
        this.record(p.actor, p.command.name, p.rawArgs, 'expired', `token ${token} not confirmed in time`);
      }
    }
  }

  private record(actor: Actor, command: string, args: readonly string[], outcome: string, detail?: string): void {
    this.audit.append({
      transport: actor.transport,
      actorId: actor.id,
      ...(actor.chatId !== undefined ? { chatId: actor.chatId } : {}),
      command: clip(command, 64),
      args: args.map((a) => clip(a, 200)),
      outcome,
      ...(detail !== undefined ? { detail } : {}),
    });
  }
}

/** "/pause 2h" → {name: "pause", args: ["2h"]}; "/status@MyBot" → "status" (Telegram group form). */
export function tokenize(text: string): { name: string | undefined; args: string[] } {
  const words = text.slice(0, MAX_TEXT).trim().split(/\s+/).filter(Boolean);
  const first = words[0];
  if (!first?.startsWith('/') || first.length < 2) return { name: undefined, args: words };
  return { name: first.slice(1).split('@')[0]!.toLowerCase(), args: words.slice(1) };
}

function parseArgs(command: CommandDef, words: readonly string[]): { ok: true; args: Record<string, unknown> } | { ok: false; error: string } {
  const last = command.params.length - 1;
  const raw = command.params[last]?.rest && words.length > last ? [...words.slice(0, last), words.slice(last).join(' ')] : words;
  if (raw.length > command.params.length) {
    return { ok: false, error: `Too many arguments for /${command.name}. Usage: ${usage(command)}` };
  }
  const args: Record<string, unknown> = {};
  for (const [i, param] of command.params.entries()) {
    const value = raw[i];
    if (value === undefined) {
      if (param.optional) continue;
      return { ok: false, error: `Missing ${param.name} for /${command.name}. Usage: ${usage(command)}` };
    }
    const result = param.schema.safeParse(value);
    if (!result.success) {
      return { ok: false, error: `Bad ${param.name} "${clip(value, 40)}" for /${command.name}: ${result.error.issues[0]?.message ?? 'invalid'}. Usage: ${usage(command)}` };
    }
    args[param.name] = result.data;
  }
  return { ok: true, args };
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
