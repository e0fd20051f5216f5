import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/database.js';
import { SqliteOutbox } from '../src/store/outbox.js';
import { OutboxNotifier, quietHours, type Channel } from './notifier.js';

class RecordingChannel implements Channel {
  readonly sent: string[] = [];
  failing = false;
  hang = false;
  constructor(readonly name: string, readonly batchChars?: number) {}
  async send(text: string): Promise<void> {
    if (this.hang) await new Promise(() => undefined);
    if (this.failing) throw new Error('service unavailable');
    this.sent.push(text);
  }
}

function setup(now: () => number = Date.now) {
  const db = openDatabase(':memory:');
  const notifier = new OutboxNotifier(new SqliteOutbox(db, now), '[SIM]', now);
  return { db, notifier };
}

describe('OutboxNotifier', () => {
  it('still delivers an alert the outbox cannot store (the database is locked or full), saying so, once', async () => {
    const { db, notifier } = setup();
    const chat = new RecordingChannel('chat');
    notifier.addChannel(chat);
    const outbox = db.prepare('SELECT count(*) FROM outbox').pluck();
    db.exec("CREATE TRIGGER no_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    notifier.notify('critical', 'Health CRITICAL: database: cannot write');
    await notifier.flush();
    expect(chat.sent).toEqual(['[SIM] Health CRITICAL: database: cannot write (not saved in the outbox: disk full)']);
    expect(outbox.get()).toBe(0);
    db.exec('DROP TRIGGER no_outbox');
    notifier.notify('info', 'next');
    await notifier.flush();
    await notifier.flush();
    expect(chat.sent).toEqual(['[SIM] Health CRITICAL: database: cannot write (not saved in the outbox: disk full)', '[SIM] next']);
  });

  it('a message sent but not marked sent (the database refused the update) goes again later rather than being lost, without spinning', async () => {
    let now = 1_000_000;
    const { db, notifier } = setup(() => now);
    const chat = new RecordingChannel('chat');
    notifier.addChannel(chat);
    db.exec("CREATE TRIGGER no_mark BEFORE UPDATE ON outbox BEGIN SELECT RAISE(ABORT, 'database is locked'); END");
    notifier.notify('trade', 'BUY 1 BTC/USD');
    await notifier.flush();
    await notifier.flush(); // backing off: not sent again at once
    expect(chat.sent).toEqual(['[SIM] BUY 1 BTC/USD']);
    db.exec('DROP TRIGGER no_mark');
    now += 5_001;
    await notifier.flush();
    expect(chat.sent).toEqual(['[SIM] BUY 1 BTC/USD', '[SIM] BUY 1 BTC/USD']);
    expect(db.prepare('SELECT status FROM outbox').pluck().all()).toEqual(['sent']);
  });

  it('tags every message, and persists it before delivery', async () => {
    const { db, notifier } = setup();
    const chat = new RecordingChannel('chat');
    notifier.addChannel(chat);
    notifier.notify('trade', 'BUY 1 BTC/USD');
    expect((db.prepare("SELECT text, status FROM outbox").all())).toEqual([{ text: '[SIM] BUY 1 BTC/USD', status: 'pending' }]);
    await notifier.flush();
    expect(chat.sent).toEqual(['[SIM] BUY 1 BTC/USD']);
    expect(db.prepare("SELECT status FROM outbox").pluck().all()).toEqual(['sent']);
  });

  it('after an outage delivers kill and critical first, then trades and risk, then info, then digests, merging repeats', async () => {
    const { notifier } = setup();
    const chat = new RecordingChannel('chat');
    chat.failing = true;
    notifier.addChannel(chat);
    notifier.notify('digest', 'daily digest');
    notifier.notify('info', 'replay ended');
    notifier.notify('trade', 'BUY 1 ETH/USD');
    notifier.notify('risk', 'Denied BTC/USD: cap');
    notifier.notify('risk', 'Denied BTC/USD: cap');
    notifier.notify('risk', 'Denied BTC/USD: cap');
    notifier.notify('kill', 'KILL by op');
    await notifier.flush();
    expect(chat.sent).toEqual([]);
    chat.failing = false;
    await new Promise((r) => setTimeout(r, 600)); // the channel's first backoff is 500 ms
    await notifier.flush();
    expect(chat.sent).toEqual(['[SIM] KILL by op', '[SIM] BUY 1 ETH/USD', '[SIM] Denied BTC/USD: cap (×3)', '[SIM] replay ended', '[SIM] daily digest']);
  });

  it('combines a backlog into few sends when the channel allows it, never beyond its size', async () => {
    const { notifier } = setup();
    const chat = new RecordingChannel('chat', 200);
    notifier.addChannel(chat);
    for (let i = 0; i < 30; i++) notifier.notify('trade', `trade number ${i}`);
    await notifier.flush();
    expect(chat.sent.length).toBeLessThan(10);
    for (const m of chat.sent) expect(m.length).toBeLessThanOrEqual(200);
    expect(chat.sent.join('\n').split('\n')).toEqual(Array.from({ length: 30 }, (_, i) => `[SIM] trade number ${i}`));
  });

  it('marks a late message with the time it was written', async () => {
    let now = Date.UTC(2026, 0, 1, 12);
    const { notifier } = setup(() => now);
    const chat = new RecordingChannel('chat');
    chat.failing = true;
    notifier.addChannel(chat);
    notifier.notify('trade', 'SELL 1 SOL/USD');
    await notifier.flush();
    chat.failing = false;
    now += 120_000;
    await notifier.flush();
    expect(chat.sent).toEqual(['[SIM] SELL 1 SOL/USD (written 2026-01-01T12:00:00.000Z)']);
  });

  it('a hung channel never blocks notify or the other channels', async () => {
    const { notifier } = setup();
    const hung = new RecordingChannel('hung');
    hung.hang = true;
    const console = new RecordingChannel('console');
    notifier.addChannel(hung);
    notifier.addChannel(console);
    // notify is synchronous: it returns after writing rows, whatever the channels do.
    for (let i = 0; i < 100; i++) expect(notifier.notify('trade', `t${i}`)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(console.sent).toHaveLength(100);
    expect(hung.sent).toHaveLength(0);
  });
});

describe('verbosity, quiet hours and pictures', () => {
  class QuietChannel extends RecordingChannel {
    readonly quiet = true;
    readonly images: Array<string | undefined> = [];
    override async send(text: string, image?: { png: Uint8Array; filename: string }): Promise<void> {
      await super.send(text);
      this.images.push(image?.filename);
    }
  }

  it('sends each channel only its kinds, but kill and critical alerts everywhere', async () => {
    const db = openDatabase(':memory:');
    const notifier = new OutboxNotifier(new SqliteOutbox(db), '[SIM]', Date.now, { kinds: { telegram: ['trade', 'digest'] } });
    const telegram = new RecordingChannel('telegram');
    const discord = new RecordingChannel('discord');
    notifier.addChannel(telegram);
    notifier.addChannel(discord);
    notifier.notify('info', 'replay ended');
    notifier.notify('trade', 'BUY 1 BTC/USD');
    notifier.notify('critical', 'reconciliation failed');
    notifier.notify('risk', 'Denied ETH/USD');
    await notifier.flush();
    expect(telegram.sent).toEqual(['[SIM] reconciliation failed', '[SIM] BUY 1 BTC/USD']);
    expect(discord.sent).toEqual(['[SIM] reconciliation failed', '[SIM] BUY 1 BTC/USD', '[SIM] Denied ETH/USD', '[SIM] replay ended']);
  });

  it('holds everything but kill and critical alerts on quiet channels during quiet hours, then delivers in order', async () => {
    let now = Date.UTC(2026, 10, 22, 23, 0); // 23:00 UTC, inside 22:00–07:00
    const db = openDatabase(':memory:');
    const notifier = new OutboxNotifier(new SqliteOutbox(db, () => now), '[SIM]', () => now, { isQuiet: quietHours('22:00', '07:00', 'UTC') });
    const phone = new QuietChannel('telegram');
    const terminal = new RecordingChannel('console');
    notifier.addChannel(phone);
    notifier.addChannel(terminal);
    notifier.notify('trade', 'BUY 1 BTC/USD');
    notifier.notify('kill', 'KILL confirmed');
    await notifier.flush();
    expect(phone.sent).toEqual(['[SIM] KILL confirmed']);
    expect(terminal.sent).toEqual(['[SIM] KILL confirmed', '[SIM] BUY 1 BTC/USD']); // the console has no quiet hours
    now = Date.UTC(2026, 10, 23, 7, 0);
    await notifier.flush();
    expect(phone.sent).toEqual(['[SIM] KILL confirmed', expect.stringMatching(/^\[SIM\] BUY 1 BTC\/USD \(written 2026-11-22T23:00:00\.000Z\)$/)]);
    notifier.close();
  });

  it('quiet hours wrap past midnight, follow the time zone, and equal ends mean none', () => {
    const berlin = quietHours('22:00', '07:00', 'Europe/Berlin');
    expect(berlin(Date.UTC(2026, 6, 1, 20, 30))).toBe(true); // 22:30 in Berlin (summer time)
    expect(berlin(Date.UTC(2026, 6, 1, 5, 30))).toBe(false); // 07:30 in Berlin
    expect(quietHours('01:00', '05:00', 'UTC')(Date.UTC(2026, 0, 1, 3))).toBe(true);
    expect(quietHours('01:00', '05:00', 'UTC')(Date.UTC(2026, 0, 1, 5))).toBe(false);
    expect(quietHours('00:00', '00:00', 'UTC')(Date.UTC(2026, 0, 1, 3))).toBe(false);
  });

  it('keeps a picture with its message: stored in the outbox, sent alone, never merged', async () => {
    const db = openDatabase(':memory:');
    const notifier = new OutboxNotifier(new SqliteOutbox(db), '[SIM]', Date.now);
    const chat = new QuietChannel('telegram', 3_500);
    chat.failing = true;
    notifier.addChannel(chat);
    const png = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
    notifier.notify('digest', 'Daily digest', { png, filename: 'digest.png' });
    notifier.notify('digest', 'Daily digest', { png, filename: 'digest.png' });
    notifier.notify('info', 'replay ended');
    await notifier.flush();
    expect(db.prepare('SELECT image_name, length(image) AS bytes FROM outbox WHERE image IS NOT NULL').all()).toEqual([
      { image_name: 'digest.png', bytes: 7 },
      { image_name: 'digest.png', bytes: 7 },
    ]);
    chat.failing = false;
    await new Promise((r) => setTimeout(r, 600)); // the channel's back-off
    await notifier.flush();
    expect(chat.images).toEqual([undefined, 'digest.png', 'digest.png']);
    expect(chat.sent).toEqual(['[SIM] replay ended', '[SIM] Daily digest', '[SIM] Daily digest']);
    notifier.close();
  });
});
