/** Schema migrations. Append only: never edit a shipped one, add the next. Index + 1 = version. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE bars (
    symbol TEXT NOT NULL, ts INTEGER NOT NULL,
    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL, volume REAL NOT NULL,
    PRIMARY KEY (symbol, ts)
  ) WITHOUT ROWID;

  CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL, symbol TEXT NOT NULL, strategy TEXT NOT NULL,
    features TEXT NOT NULL, signal TEXT NOT NULL, intent TEXT,
    verdict TEXT NOT NULL CHECK (verdict IN ('none', 'approved', 'denied')), reason TEXT
  );
  CREATE INDEX decisions_ts ON decisions (ts);

  CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL, side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    qty REAL, notional REAL,
    status TEXT NOT NULL, reject_reason TEXT,
    submitted_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
  );
  CREATE INDEX orders_open ON orders (status) WHERE status IN ('new', 'accepted');

  CREATE TABLE fills (
    id INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL, ts INTEGER NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
    qty REAL NOT NULL, price REAL NOT NULL, fee REAL NOT NULL, realized_pnl REAL NOT NULL
  );

  CREATE TABLE positions (
    symbol TEXT PRIMARY KEY, qty REAL NOT NULL, avg_cost REAL NOT NULL, updated_at INTEGER NOT NULL
  );

  CREATE TABLE equity_snapshots (
    ts INTEGER PRIMARY KEY, equity REAL NOT NULL, cash REAL NOT NULL, exposure REAL NOT NULL
  );

  CREATE TABLE risk_events (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, symbol TEXT, reason TEXT NOT NULL, detail TEXT
  );

  CREATE TABLE settings (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL
  );

  CREATE TABLE audit (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
    transport TEXT NOT NULL, actor_id TEXT NOT NULL, chat_id TEXT,
    command TEXT NOT NULL, args TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT
  );
  -- The audit log is append-only: the database itself refuses edits and deletions.
  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
  CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, channel TEXT NOT NULL,
    priority INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
    attempts INTEGER NOT NULL DEFAULT 0, sent_at INTEGER, last_error TEXT
  );
  CREATE INDEX outbox_pending ON outbox (channel, status, priority, id);
  `,
  `
  -- Identical pending alerts are merged into one row with a count instead of flooding the chat.
  ALTER TABLE outbox ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
  `,
  `
  -- Bars that failed the data-quality gate are kept with the reason and never traded on.
  ALTER TABLE bars ADD COLUMN flag TEXT;
  `,
  `
  -- Limit orders: the price, USD per unit (NULL for market orders).
  ALTER TABLE orders ADD COLUMN limit_price REAL;
  `,
  `
  -- Digests carry a chart: a PNG attached to the message.
  ALTER TABLE outbox ADD COLUMN image BLOB;
  ALTER TABLE outbox ADD COLUMN image_name TEXT;

  -- Every /advise answer, with the snapshot it was given, for later review.
  CREATE TABLE advice (
    id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL,
    actor TEXT NOT NULL, question TEXT NOT NULL,
    snapshot TEXT NOT NULL, prompt TEXT NOT NULL,
    answer TEXT NOT NULL, source TEXT NOT NULL, model TEXT, note TEXT
  );
  `,
  `
  -- Every training trial of the ensemble's models: what was tried, how it did on validation, how long it took.
  CREATE TABLE trials (
    id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, run_id TEXT NOT NULL, seed INTEGER NOT NULL,
    params TEXT NOT NULL, metrics TEXT NOT NULL, duration_ms INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), error TEXT,
    -- the trained model (JSON of MlpModel with arrays) so a deployer can export it later
    model TEXT
  );
  CREATE INDEX trials_run ON trials (run_id);

  -- Each deployment of a model set, newest last; rollback re-deploys an earlier row's set.
  CREATE TABLE model_deployments (
    id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, manifest_sha256 TEXT NOT NULL,
    manifest TEXT NOT NULL, trial_ids TEXT NOT NULL, reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'rolled-back', 'refused'))
  );
  `,
  `
  -- Retention: which mode recorded a decision and when by the wall clock (ms UTC). ts is the market time, which in
  -- sim is a replayed past, so age is measured on recorded_at. Rows from before this migration stay NULL (unknown:
  -- never archived).
  ALTER TABLE decisions ADD COLUMN mode TEXT CHECK (mode IN ('backtest', 'sim', 'paper', 'live'));
  ALTER TABLE decisions ADD COLUMN recorded_at INTEGER;
  CREATE INDEX decisions_retention ON decisions (mode, recorded_at);
  `,
  `
  -- Every bar the data-quality gate flagged, as received (raw JSON keeps NaN and Infinity, which REAL columns
  -- cannot), including duplicates and out-of-order bars, whose hour in bars holds the bar that was traded on.
  CREATE TABLE flagged_bars (
    id INTEGER PRIMARY KEY, recorded_at INTEGER NOT NULL, symbol TEXT NOT NULL, ts INTEGER NOT NULL,
    open REAL, high REAL, low REAL, close REAL, volume REAL, raw TEXT NOT NULL, flag TEXT NOT NULL
  );
  CREATE INDEX flagged_bars_ts ON flagged_bars (ts);
  `,
];
