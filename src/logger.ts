/** pino logging: JSON lines by default, human-readable on a TTY. Secrets are redacted wherever they appear. */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Any key with one of these names is censored, at any of the first levels of nesting. */
const SECRET_KEYS = ['token', 'apiKey', 'apiSecret', 'secret', 'password', 'authorization', 'APCA_API_KEY_ID', 'APCA_API_SECRET_KEY', 'TELEGRAM_BOT_TOKEN', 'DISCORD_BOT_TOKEN'];
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/**
 * `destination` is for tests; by default JSON goes to stderr, or pino-pretty when stderr is a terminal (or when
 * the supervisor, whose own stderr is one, sets CE_LOG_PRETTY=1 for the agent behind its pipe).
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const pretty = destination === undefined && (process.stderr.isTTY === true || process.env.CE_LOG_PRETTY === '1');
  return pino({
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Logs go to stderr so stdout stays the console chat.
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss' } } }
      : {}),
  }, pretty ? undefined : destination ?? pino.destination(2));
}
