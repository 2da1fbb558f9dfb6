// Schema migrations, applied in order at start, each once, under an advisory lock so that replicas
// starting together do not race. Append new migrations; never edit an applied one; add the same change to
// sqlite-schema.ts (the embedded store).
import type { SqlClient } from './sql-client.ts';

const MIGRATIONS: string[] = [
  `
  CREATE TABLE deployments (
    id bigint PRIMARY KEY,                 -- GitHub's deployment id: a redelivery cannot insert twice
    installation_id bigint NOT NULL,
    repository text NOT NULL,
    environment text NOT NULL,
    sha text NOT NULL,
    ref text NOT NULL,
    task text NOT NULL,
    duplicate_key text NOT NULL,
    forced boolean NOT NULL,
    requested_by text NOT NULL,
    payload jsonb NOT NULL,
    state text NOT NULL,
    github_state text,
    description text NOT NULL DEFAULT '',
    detail text NOT NULL DEFAULT '',
    duplicate_of bigint,
    config jsonb,
    environment_url text,
    previous_sha text,
    lease_owner text,
    lease_expires_at timestamptz,
    cancel_requested_by text,
    deadline_at timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    queued_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz
  );
  CREATE INDEX deployments_by_key ON deployments (duplicate_key);
  CREATE INDEX deployments_by_environment ON deployments (repository, environment, state);
  CREATE INDEX deployments_by_state ON deployments (state);
  -- Rule 2 in the database itself: never two running deployments in one environment.
  CREATE UNIQUE INDEX deployments_one_running ON deployments (repository, environment) WHERE state = 'running';

  CREATE TABLE webhook_deliveries (
    guid text PRIMARY KEY,
    event text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
  );

  -- One row per environment: the anchor that admissions and claims lock, and the /lock holder.
  CREATE TABLE environments (
    repository text NOT NULL,
    environment text NOT NULL,
    lock_owner text,
    lock_reason text,
    locked_at timestamptz,
    PRIMARY KEY (repository, environment)
  );

  CREATE TABLE deployment_hosts (
    deployment_id bigint NOT NULL REFERENCES deployments (id),
    position int NOT NULL,
    host text NOT NULL,
    state text NOT NULL,
    phase text,
    message text NOT NULL DEFAULT '',
    output text NOT NULL DEFAULT '',
    started_at timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (deployment_id, host)
  );

  CREATE TABLE deployment_events (
    seq bigserial PRIMARY KEY,
    deployment_id bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    message text NOT NULL
  );
  CREATE INDEX deployment_events_by_deployment ON deployment_events (deployment_id, seq);

  -- Statuses to publish: written in the same transaction as the state change they report, so a crash
  -- between the two cannot lose a terminal status.
  CREATE TABLE status_outbox (
    seq bigserial PRIMARY KEY,
    deployment_id bigint NOT NULL,
    installation_id bigint NOT NULL,
    repository text NOT NULL,
    kind text NOT NULL,                    -- 'phase' (never dropped) | 'progress' (coalesced) | 'terminal'
    state text NOT NULL,
    description text NOT NULL,
    log_url text,
    environment_url text,
    created_at timestamptz NOT NULL DEFAULT now(),
    claimed_by text,
    claimed_until timestamptz,
    attempts int NOT NULL DEFAULT 0,
    last_error text,
    done_at timestamptz
  );
  CREATE INDEX status_outbox_pending ON status_outbox (installation_id, seq) WHERE done_at IS NULL;
  `,
  // Exactly once under faults: the lease's fencing epoch, and each host's write-ahead intent deadline.
  `
  ALTER TABLE deployments ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;
  -- Set with a step's intent: until then the step's command may still act on the host. Cleared when the
  -- step's end is observed and its command known gone.
  ALTER TABLE deployment_hosts ADD COLUMN act_deadline timestamptz;
  `,
  // Fleet safety: a fleet rollback once begun (and why), so that a takeover continues it rather than the
  // deploy; and `/cancel --rollback`.
  `
  ALTER TABLE deployments ADD COLUMN fleet_rollback text;
  ALTER TABLE deployments ADD COLUMN cancel_rollback boolean NOT NULL DEFAULT false;
  `,
  // Workflow jobs gated as a custom deployment protection rule: the run a deployment belongs to (set only
  // for gated jobs, which the bot never runs nor posts statuses on), and the reviews to send to its callback.
  `
  ALTER TABLE deployments ADD COLUMN workflow_run_id bigint;
  CREATE TABLE gate_reviews (
    seq bigserial PRIMARY KEY,
    deployment_id bigint NOT NULL,
    installation_id bigint NOT NULL,
    repository text NOT NULL,
    run_id bigint NOT NULL,
    environment text NOT NULL,
    state text,                            -- 'approved' | 'rejected' | NULL: a progress comment
    comment text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    claimed_by text,
    claimed_until timestamptz,
    attempts int NOT NULL DEFAULT 0,
    last_error text,
    done_at timestamptz
  );
  CREATE INDEX gate_reviews_pending ON gate_reviews (seq) WHERE done_at IS NULL;
  `,
];

export async function migrate(db: SqlClient): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(727274)');
    await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const applied = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((row) => Number(row.version)),
    );
    for (const [index, sql] of MIGRATIONS.entries()) {
      const version = index + 1;
      if (applied.has(version)) continue;
      // One statement per query: the extended protocol (parameters) takes no more.
      for (const statement of sql
        .split(/;\s*\n/)
        .map((text) => text.trim())
        .filter(Boolean))
        await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
    }
  });
}
