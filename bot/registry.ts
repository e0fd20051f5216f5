/**
 * The command registry: each command is defined once, with typed zod arguments, a role and an optional
 * confirmation. Transports (console now; Telegram and Discord later) only parse text and render replies.
 */
import type { z } from 'zod';
import type { EngineApi } from '../engine/api.js';

export type Role = 'viewer' | 'operator';

/** Who sent a command, as the transport identified them. `role` is null for people on no list. */
export interface Actor {
  readonly transport: string;
  readonly id: string;
  readonly chatId?: string;
  readonly role: Role | null;
}

/** A picture sent with a reply (a chart): PNG bytes and the file name shown to the user. */
export interface ReplyImage {
  readonly png: Uint8Array;
  readonly filename: string;
}

export interface Reply {
  readonly text: string;
  /** present when the command waits for the same actor to confirm with this token */
  readonly confirmToken?: string;
  /** sent before the text (Telegram photo, Discord attachment; the console saves it and prints the path) */
  readonly image?: ReplyImage;
  /**
   * A reply that grows (the advisor streaming an answer): the transport shows `text` at once, passes each
   * longer version to the screen as `progress` reports it (editing the message, throttled), and ends with the
   * text the promise resolves to.
   */
  readonly stream?: (progress: (soFar: string) => void) => Promise<string>;
}

export interface ParamSpec {
  readonly name: string;
  readonly schema: z.ZodType;
  readonly optional?: boolean;
  /** the last parameter only: it takes the rest of the words, joined by single spaces (a question) */
  readonly rest?: boolean;
}

export interface CommandDef<Args extends Record<string, unknown> = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  /** the role needed to use the command at all */
  readonly role: Role;
  /** a stricter role for some invocations, e.g. /limits: viewers read, operators set */
  readonly roleFor?: (args: Args) => Role;
  readonly params: readonly ParamSpec[];
  /** A confirmation prompt when this invocation must be confirmed, else undefined. */
  readonly confirm?: (api: EngineApi, args: Args) => string | undefined;
  readonly run: (api: EngineApi, args: Args, actor: Actor) => Reply | Promise<Reply>;
}

/** Keeps `run` and `confirm` typed against the params while the registry holds them uniformly. */
export function defineCommand<Args extends Record<string, unknown>>(def: CommandDef<Args>): CommandDef {
  return def as unknown as CommandDef;
}

/** `/pause [duration]` */
export function usage(cmd: CommandDef): string {
  return [`/${cmd.name}`, ...cmd.params.map((p) => (p.optional ? `[${p.name}]` : `<${p.name}>`))].join(' ');
}

export interface AuditEntry {
  readonly transport: string;
  readonly actorId: string;
  readonly chatId?: string;
  readonly command: string;
  readonly args: readonly string[];
  /** requested | awaiting-confirmation | confirmed | ok | error | denied | invalid | unknown | unauthorized | expired */
  readonly outcome: string;
  readonly detail?: string;
}

/** Append-only. Written before a command runs and again with its outcome. */
export interface AuditLog {
  append(entry: AuditEntry): void;
}
