// The embedded store's schema: the tables of migrations.ts in SQLite's terms. Times are milliseconds since
// the epoch (INTEGER, `now()` is the bot's clock), JSON is TEXT, booleans are 0/1. Applied in order at
// open, each once, counted in PRAGMA user_version. Append new migrations; never edit an applied one, and
// keep them in step with migrations.ts.
import type { DatabaseSync } from 'node:sqlite';

const MIGRATIONS: string[] = [
  `
  CREATE TABLE deployments (
    id INTEGER PRIMARY KEY,                -- GitHub's deployment id: a redelivery cannot insert twice
    installation_id INTEGER NOT NULL,
    repository TEXT NOT NULL,
    environment TEXT NOT NULL,
    sha TEXT NOT NULL,
    ref TEXT NOT NULL,
    task TEXT NOT NULL,
    duplicate_key TEXT NOT NULL,
    forced INTEGER NOT NULL,
    requested_by TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    github_state TEXT,
    description TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    duplicate_of INTEGER,
    config TEXT,
    environment_url TEXT,
    previous_sha TEXT,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    cancel_requested_by TEXT,
    deadline_at INTEGER,
    received_at INTEGER NOT NULL DEFAULT (now()),
    queued_at INTEGER,
    started_at INTEGER,
    finished_at INTEGER
  );
  CREATE INDEX deployments_by_key ON deployments (duplicate_key);
  CREATE INDEX deployments_by_environment ON deployments (repository, environment, state);
  CREATE INDEX deployments_by_state ON deployments (state);
  CREATE UNIQUE INDEX deployments_one_running ON deployments (repository, environment) WHERE state = 'running';

  CREATE TABLE webhook_deliveries (
    guid TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    received_at INTEGER NOT NULL DEFAULT (now())
  );

  CREATE TABLE environments (
    repository TEXT NOT NULL,
    environment TEXT NOT NULL,
    lock_owner TEXT,
    lock_reason TEXT,
    locked_at INTEGER,
    PRIMARY KEY (repository, environment)
  );

  CREATE TABLE deployment_hosts (
    deployment_id INTEGER NOT NULL REFERENCES deployments (id),
    position INTEGER NOT NULL,
    host TEXT NOT NULL,
    state TEXT NOT NULL,
    phase TEXT,
    message TEXT NOT NULL DEFAULT '',
    output TEXT NOT NULL DEFAULT '',
    started_at INTEGER,
    finished_at INTEGER,
    PRIMARY KEY (deployment_id, host)
  );

  CREATE TABLE deployment_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id INTEGER NOT NULL,
    at INTEGER NOT NULL DEFAULT (now()),
    message TEXT NOT NULL
  );
  CREATE INDEX deployment_events_by_deployment ON deployment_events (deployment_id, seq);

  CREATE TABLE status_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id INTEGER NOT NULL,
    installation_id INTEGER NOT NULL,
    repository TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    description TEXT NOT NULL,
    log_url TEXT,
    environment_url TEXT,
    created_at INTEGER NOT NULL DEFAULT (now()),
    claimed_by TEXT,
    claimed_until INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at INTEGER
  );
  CREATE INDEX status_outbox_pending ON status_outbox (installation_id, seq) WHERE done_at IS NULL;
  `,
  `
  ALTER TABLE deployments ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE deployment_hosts ADD COLUMN act_deadline INTEGER;
  `,
  `
  ALTER TABLE deployments ADD COLUMN fleet_rollback TEXT;
  ALTER TABLE deployments ADD COLUMN cancel_rollback INTEGER NOT NULL DEFAULT 0;
  `,
  `
  ALTER TABLE deployments ADD COLUMN workflow_run_id INTEGER;
  CREATE TABLE gate_reviews (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id INTEGER NOT NULL,
    installation_id INTEGER NOT NULL,
    repository TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    environment TEXT NOT NULL,
    state TEXT,
    comment TEXT NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (now()),
    claimed_by TEXT,
    claimed_until INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at INTEGER
  );
  CREATE INDEX gate_reviews_pending ON gate_reviews (seq) WHERE done_at IS NULL;
  `,
];

export function migrateSqlite(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const { user_version: applied } = db.prepare('PRAGMA user_version').get() as { user_version: number };
    for (const [index, sql] of MIGRATIONS.entries()) if (index + 1 > applied) db.exec(sql);
    db.exec(`PRAGMA user_version = ${Math.max(applied, MIGRATIONS.length)}`);
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
