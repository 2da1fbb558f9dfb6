// The Store on the embedded SQLite database, method for method the statements of sql-store.ts (PostgreSQL)
// in SQLite's dialect. node:sqlite is synchronous and this process is the database's only writer, so each
// method is one transaction that runs to its end without yielding: no other call can interleave, which
// gives every claim, fence and conditional transition the isolation PostgreSQL's row locks give the other
// store. Statements stay small and indexed: none holds the event loop for long.
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { duplicateKey } from '../../common/deploy-intent.ts';
import { sameAdmissionFacts, type Admission, type AdmissionFacts, type EnvironmentLock } from '../engine/admission.ts';
import { approvalReview, MAX_PROGRESS_COMMENTS, type GateReviewToSend } from '../engine/gate-reviews.ts';
import type { GatedEnd } from '../engine/gated-end.ts';
import { rolloutHosts } from '../engine/deploy-config.ts';
import { statesBefore, type DeploymentState } from '../engine/states.ts';
import type { ActingPhase, HostPhase, HostState } from '../engine/outcomes.ts';
import type { StatusToPublish } from '../engine/status-for.ts';
import type { EmbeddedDatabase } from './embedded-database.ts';
import { migrateSqlite } from './sqlite-schema.ts';
import { lockFrom, toDeployment, toPendingGateReview, toPendingStatus } from './sql-store.ts';
import type {
  AdmissionApplied,
  AdmissionInputs,
  DeploymentRecord,
  EnvironmentActivity,
  Finish,
  HostEnd,
  HostRecord,
  LeaseRef,
  NewDeployment,
  PendingGateReview,
  PendingStatus,
  Store,
} from './store.ts';

type Row = Record<string, unknown>;

export function openSqliteStore(database: EmbeddedDatabase): Store {
  migrateSqlite(database.db);
  return new SqliteStore(database);
}

/** A list bound as one parameter: `IN (SELECT value FROM json_each(?n))`. */
const list = (values: readonly (string | number)[]) => JSON.stringify(values);
const flag = (value: boolean) => (value ? 1 : 0);

class SqliteStore implements Store {
  private readonly database: EmbeddedDatabase;
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();

  constructor(database: EmbeddedDatabase) {
    this.database = database;
    this.db = database.db;
  }

  private all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.statement(sql).all(...params) as Row[];
  }

  private get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.statement(sql).get(...params) as Row | undefined;
  }

  private statement(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** One write transaction, taken at once (BEGIN IMMEDIATE): committed when `work` returns, else rolled back. */
  private transaction<T>(work: () => T): Promise<T> {
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = work();
        this.db.exec('COMMIT');
        return Promise.resolve(result);
      } catch (error) {
        if (this.db.isTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** A read: one statement, or several that no write can come between (nothing else runs meanwhile). */
  private read<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** Whether `lease` is still the running deployment's current one (the fence of a runner's write). */
  private fenced(lease: LeaseRef): boolean {
    return (
      this.get("SELECT 1 FROM deployments WHERE id = ?1 AND lease_epoch = ?2 AND state = 'running'", lease.id, lease.epoch) !== undefined
    );
  }

  private addEvent(id: number, message: string): void {
    this.all('INSERT INTO deployment_events (deployment_id, message) VALUES (?1, ?2)', id, message);
  }

  /** Never a status on a gated job's deployment: GitHub Actions owns those. */
  private enqueue(s: StatusToPublish): void {
    this.all(
      `INSERT INTO status_outbox (deployment_id, installation_id, repository, kind, state, description, log_url, environment_url)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE NOT EXISTS (SELECT 1 FROM deployments WHERE id = ?1 AND workflow_run_id IS NOT NULL)`,
      s.deploymentId,
      s.installationId,
      s.repository,
      s.kind,
      s.state,
      s.description,
      s.logUrl,
      s.environmentUrl,
    );
  }

  /** Queues a review for a gated job (nothing for any other deployment); progress comments within GitHub's limit. */
  private enqueueReview(review: GateReviewToSend): void {
    this.all(
      `INSERT INTO gate_reviews (deployment_id, installation_id, repository, run_id, environment, state, comment)
       SELECT id, installation_id, repository, workflow_run_id, environment, ?2, ?3 FROM deployments d
       WHERE id = ?1 AND workflow_run_id IS NOT NULL
         AND (?2 IS NOT NULL OR (SELECT count(*) FROM gate_reviews g WHERE g.deployment_id = d.id AND g.state IS NULL) < ?4)`,
      review.deploymentId,
      review.state,
      review.comment,
      MAX_PROGRESS_COMMENTS,
    );
  }

  /** The environment's anchor row (created on first use) and its /lock. */
  private environmentRow(repository: string, environment: string): EnvironmentLock | null {
    this.all('INSERT INTO environments (repository, environment) VALUES (?1, ?2) ON CONFLICT DO NOTHING', repository, environment);
    return lockFrom(
      this.get(
        'SELECT lock_owner, lock_reason, locked_at FROM environments WHERE repository = ?1 AND environment = ?2',
        repository,
        environment,
      )!,
    );
  }

  recordDelivery(guid: string, event: string): Promise<boolean> {
    return this.transaction(
      () =>
        this.all('INSERT INTO webhook_deliveries (guid, event) VALUES (?1, ?2) ON CONFLICT DO NOTHING RETURNING guid', guid, event)
          .length === 1,
    );
  }

  hasDelivery(guid: string): Promise<boolean> {
    return this.read(() => this.get('SELECT 1 FROM webhook_deliveries WHERE guid = ?1', guid) !== undefined);
  }

  recordReceived(d: NewDeployment, delivery?: { guid: string; event: string }): Promise<boolean> {
    const run = d.workflowRunId ? ` (workflow run ${d.workflowRunId}, waiting for shipguard's approval)` : '';
    const event = `received: ${d.environment} ${d.sha.slice(0, 12)} (${d.ref}) requested by @${d.requestedBy}${d.forced ? ', forced' : ''}${run}`;
    return this.transaction(() => {
      const inserted = this.all(
        `INSERT INTO deployments (id, installation_id, repository, environment, sha, ref, task, duplicate_key, forced, requested_by, payload, state, workflow_run_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'received', ?12) ON CONFLICT (id) DO NOTHING RETURNING id`,
        d.id,
        d.installationId,
        d.repository,
        d.environment,
        d.sha,
        d.ref,
        d.task,
        duplicateKey(d),
        flag(d.forced),
        d.requestedBy,
        JSON.stringify(d.payload),
        d.workflowRunId ?? null,
      );
      if (inserted.length) this.addEvent(d.id, event);
      if (delivery)
        this.all('INSERT INTO webhook_deliveries (guid, event) VALUES (?1, ?2) ON CONFLICT DO NOTHING', delivery.guid, delivery.event);
      return inserted.length === 1;
    });
  }

  forgetReceived(id: number): Promise<void> {
    return this.transaction(() => {
      if (this.all("DELETE FROM deployments WHERE id = ?1 AND state = 'received' RETURNING id", id).length)
        this.all('DELETE FROM deployment_events WHERE deployment_id = ?1', id);
    });
  }

  claimReceived(owner: string, holdMs: number, limit: number): Promise<DeploymentRecord[]> {
    return this.transaction(() =>
      this.all(
        `UPDATE deployments SET lease_owner = ?1, lease_expires_at = now() + ?2
         WHERE id IN (SELECT id FROM deployments WHERE state = 'received' AND (lease_expires_at IS NULL OR lease_expires_at < now())
                      ORDER BY received_at, id LIMIT ?3)
         RETURNING *`,
        owner,
        holdMs,
        limit,
      )
        .map(toDeployment)
        .sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime() || a.id - b.id),
    );
  }

  replaceEarlierAttempts(id: number, runId: number): Promise<void> {
    return this.transaction(() => {
      // A run has one attempt at a time: an earlier attempt still open here ended without a word (the run
      // was cancelled, then re-run) and must neither block this one as its duplicate nor be approved for it.
      const replaced = this.all(
        `UPDATE deployments SET state = CASE WHEN state = 'running' THEN 'error' ELSE 'cancelled' END, finished_at = now(),
           description = 'an earlier attempt of workflow run ' || workflow_run_id || ', replaced by #' || ?3 || '; its end was not reported'
         WHERE workflow_run_id = ?1 AND id <> ?2 AND state IN ('queued', 'running') RETURNING id, description`,
        runId,
        id,
        String(id), // a bound number is a REAL in an expression: "#2.0"
      );
      for (const old of replaced) this.addEvent(Number(old.id), String(old.description));
    });
  }

  admissionFacts(id: number, inputs: AdmissionInputs): Promise<AdmissionFacts | null> {
    return this.transaction(() => this.readAdmissionFacts(id, inputs));
  }

  applyAdmission(
    decidedOn: AdmissionFacts,
    admission: Admission,
    statuses: StatusToPublish[],
    reviews: GateReviewToSend[],
  ): Promise<AdmissionApplied> {
    return this.transaction(() => {
      const id = decidedOn.candidate.id;
      const facts = this.readAdmissionFacts(id, decidedOn);
      if (!facts) return 'gone';
      if (!sameAdmissionFacts(decidedOn, facts)) return 'changed';
      const envConfig = facts.config.ok ? facts.config.environment : null;
      if (admission.kind === 'refuse') {
        this.all(
          `UPDATE deployments SET state = 'refused', description = ?2, detail = ?3, duplicate_of = ?4, lease_owner = NULL, lease_expires_at = NULL, finished_at = now()
           WHERE id = ?1 AND state IN (SELECT value FROM json_each(?5))`,
          id,
          admission.description,
          admission.detail,
          admission.duplicateOf,
          list(statesBefore('refused')),
        );
        this.addEvent(id, `refused: ${admission.detail}`);
      } else {
        this.all(
          `UPDATE deployments SET state = 'queued', config = ?2, environment_url = ?3, lease_owner = NULL, lease_expires_at = NULL, queued_at = now(), description = ?5
           WHERE id = ?1 AND state IN (SELECT value FROM json_each(?4))`,
          id,
          JSON.stringify(envConfig),
          envConfig?.url ?? null,
          list(statesBefore('queued')),
          admission.description ?? 'queued',
        );
        this.addEvent(id, 'queued');
        if (admission.note) this.addEvent(id, admission.note);
        for (const older of admission.supersede) {
          this.all(
            `UPDATE deployments SET state = 'superseded', description = ?2, finished_at = now() WHERE id = ?1 AND state IN (SELECT value FROM json_each(?3))`,
            older,
            `superseded by #${id}`,
            list(statesBefore('superseded')),
          );
          this.addEvent(older, `superseded by #${id}`);
        }
      }
      for (const status of statuses) this.enqueue(status);
      for (const review of reviews) this.enqueueReview(review);
      return 'applied';
    });
  }

  /** What admission decides on (BEGIN IMMEDIATE holds the whole database); null once `id` is no longer `received`. */
  private readAdmissionFacts(id: number, inputs: AdmissionInputs): AdmissionFacts | null {
    const head = this.get('SELECT repository, environment FROM deployments WHERE id = ?1', id);
    if (!head) return null;
    const lock = this.environmentRow(String(head.repository), String(head.environment));
    const row = this.get("SELECT * FROM deployments WHERE id = ?1 AND state = 'received'", id);
    if (!row) return null;
    const record = toDeployment(row);
    const sameKey = this.all(
      "SELECT id, state, finished_at, workflow_run_id FROM deployments WHERE duplicate_key = ?1 AND id <> ?2 AND state <> 'received' ORDER BY received_at, id",
      duplicateKey(record),
      id,
    );
    const succeeded = this.all(
      "SELECT DISTINCT environment FROM deployments WHERE repository = ?1 AND sha = ?2 AND task = 'deploy' AND state = 'succeeded'",
      record.repository,
      record.sha,
    );
    const waiting = this.all(
      "SELECT id FROM deployments WHERE repository = ?1 AND environment = ?2 AND state = 'queued' ORDER BY queued_at, id",
      record.repository,
      record.environment,
    );
    const running = this.get(
      "SELECT id, workflow_run_id FROM deployments WHERE repository = ?1 AND environment = ?2 AND state = 'running'",
      record.repository,
      record.environment,
    );
    const live = this.get(
      "SELECT id, sha, finished_at FROM deployments WHERE repository = ?1 AND environment = ?2 AND task = 'deploy' AND state = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1",
      record.repository,
      record.environment,
    );
    const actionKey = typeof record.payload.idempotency_key === 'string' ? record.payload.idempotency_key : null;
    const sameIdempotencyKey = actionKey
      ? this.all(
          "SELECT id, state FROM deployments WHERE repository = ?1 AND json_extract(payload, '$.idempotency_key') = ?2 AND id <> ?3 AND state <> 'received' ORDER BY received_at, id",
          record.repository,
          actionKey,
          id,
        )
      : [];
    return {
      candidate: record,
      config: inputs.config,
      sameKey: sameKey.map((r) => ({
        id: Number(r.id),
        state: r.state as DeploymentState,
        finishedAt: r.finished_at === null ? null : new Date(Number(r.finished_at)),
        workflowRunId: r.workflow_run_id === null ? null : Number(r.workflow_run_id),
      })),
      sameIdempotencyKey: sameIdempotencyKey.map((r) => ({ id: Number(r.id), state: r.state as DeploymentState })),
      endedOnGitHub: inputs.endedOnGitHub,
      lock,
      succeededIn: succeeded.map((r) => String(r.environment)),
      waiting: waiting.map((r) => Number(r.id)),
      running: running
        ? { id: Number(running.id), workflowRunId: running.workflow_run_id === null ? null : Number(running.workflow_run_id) }
        : null,
      live: live
        ? {
            id: Number(live.id),
            sha: String(live.sha),
            finishedAt: live.finished_at === null ? null : new Date(Number(live.finished_at)),
          }
        : null,
      gate: inputs.gate ?? null,
      now: new Date(Number(this.get('SELECT now() AS now')!.now)),
    };
  }

  claimNext(
    owner: string,
    leaseMs: number,
    startedStatus: (record: DeploymentRecord) => StatusToPublish,
    held?: (record: DeploymentRecord) => boolean,
  ): Promise<DeploymentRecord | null> {
    return this.transaction(() => {
      // The oldest queued deployment of the first environment (in the order PostgreSQL's store scans them)
      // with none running and no host command that may still act.
      // An environment whose next deployment is held (a freeze window) waits; the others go on.
      const next = this.all(
        `SELECT * FROM deployments q WHERE state = 'queued'
           AND NOT EXISTS (SELECT 1 FROM deployments r WHERE r.repository = q.repository AND r.environment = q.environment AND r.state = 'running')
           AND NOT EXISTS (SELECT 1 FROM deployments o WHERE o.repository = q.repository AND o.environment = q.environment AND o.state = 'queued'
                           AND (o.queued_at < q.queued_at OR (o.queued_at = q.queued_at AND o.id < q.id)))
           AND NOT EXISTS (${COMMAND_MAY_STILL_ACT})
         ORDER BY repository, environment LIMIT 50`,
      )
        .map(toDeployment)
        .find((candidate) => !held?.(candidate));
      if (!next) return null;
      const record = next;
      this.environmentRow(record.repository, record.environment);
      const previous = this.get(
        "SELECT sha FROM deployments WHERE repository = ?1 AND environment = ?2 AND task = 'deploy' AND state = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1",
        record.repository,
        record.environment,
      );
      const totalMs = record.config?.timeouts.total ?? 7_200_000;
      // A gated job holds no lease: nothing of it runs here, so there is nothing to take over.
      const started = this.get(
        `UPDATE deployments SET state = 'running', lease_owner = CASE WHEN workflow_run_id IS NULL THEN ?2 END,
           lease_expires_at = CASE WHEN workflow_run_id IS NULL THEN now() + ?3 END, lease_epoch = lease_epoch + 1,
           started_at = now(), deadline_at = now() + ?4, previous_sha = ?5,
             description = CASE WHEN workflow_run_id IS NULL THEN 'starting' ELSE 'deploying in workflow run ' || workflow_run_id END
         WHERE id = ?1 AND state IN (SELECT value FROM json_each(?6)) RETURNING *`,
        record.id,
        owner,
        leaseMs,
        totalMs,
        previous ? String(previous.sha) : null,
        list(statesBefore('running')),
      );
      const startedRecord = toDeployment(started!);
      for (const [position, host] of (record.config ? rolloutHosts(record.config) : []).entries()) {
        this.all(
          "INSERT INTO deployment_hosts (deployment_id, position, host, state) VALUES (?1, ?2, ?3, 'pending') ON CONFLICT DO NOTHING",
          record.id,
          position,
          host,
        );
      }
      if (startedRecord.workflowRunId !== null) {
        this.addEvent(record.id, `approved by ${owner}: workflow run ${startedRecord.workflowRunId} deploys`);
        this.enqueueReview(approvalReview(record.id, record.environment));
        return startedRecord;
      }
      this.addEvent(record.id, `started by ${owner}`);
      this.enqueue(startedStatus(startedRecord));
      return startedRecord;
    });
  }

  takeOverLapsed(owner: string, leaseMs: number, exclude: number[]): Promise<DeploymentRecord | null> {
    return this.transaction(() => {
      const row = this.get(
        `UPDATE deployments SET lease_owner = ?1, lease_expires_at = now() + ?2, lease_epoch = lease_epoch + 1
         WHERE id = (SELECT id FROM deployments WHERE state = 'running' AND lease_expires_at < now() AND id NOT IN (SELECT value FROM json_each(?3))
                     ORDER BY lease_expires_at LIMIT 1)
         RETURNING *`,
        owner,
        leaseMs,
        list(exclude),
      );
      if (!row) return null;
      const record = toDeployment(row);
      this.addEvent(record.id, `taken over by ${owner}: the lease of the bot running it lapsed`);
      return record;
    });
  }

  renewLease(lease: LeaseRef, leaseMs: number): Promise<boolean> {
    return this.transaction(
      () =>
        this.all(
          "UPDATE deployments SET lease_expires_at = now() + ?3 WHERE id = ?1 AND lease_epoch = ?2 AND state = 'running' RETURNING id",
          lease.id,
          lease.epoch,
          leaseMs,
        ).length === 1,
    );
  }

  releaseLease(lease: LeaseRef): Promise<boolean> {
    return this.transaction(
      () =>
        this.all(
          "UPDATE deployments SET lease_owner = NULL, lease_expires_at = now() - 1000 WHERE id = ?1 AND lease_epoch = ?2 AND state = 'running' RETURNING id",
          lease.id,
          lease.epoch,
        ).length === 1,
    );
  }

  recordHostIntent(lease: LeaseRef, host: string, phase: ActingPhase, hardLimitMs: number): Promise<boolean> {
    return this.transaction(() => {
      if (!this.fenced(lease)) return false;
      const intent = this.all(
        `UPDATE deployment_hosts SET state = 'running', phase = ?3, started_at = COALESCE(started_at, now()), act_deadline = now() + ?4
         WHERE deployment_id = ?1 AND host = ?2 RETURNING host`,
        lease.id,
        host,
        phase,
        hardLimitMs,
      );
      if (intent.length) this.addEvent(lease.id, `${host}: ${phase} starting`);
      return intent.length === 1;
    });
  }

  recordHostEnd(lease: LeaseRef, host: string, end: HostEnd): Promise<boolean> {
    return this.transaction(() => {
      if (!this.fenced(lease)) return false;
      const ended = this.all(
        `UPDATE deployment_hosts SET state = ?3, message = ?4, phase = NULL, finished_at = now(),
           act_deadline = CASE WHEN ?5 THEN NULL ELSE act_deadline END
         WHERE deployment_id = ?1 AND host = ?2 RETURNING host`,
        lease.id,
        host,
        end.outcome,
        end.message,
        flag(end.settled),
      );
      if (ended.length) this.addEvent(lease.id, `${host}: ${end.outcome}${end.message ? ` (${end.message})` : ''}`);
      return ended.length === 1;
    });
  }

  recordHostProgress(lease: LeaseRef, host: string, change: { phase?: HostPhase | null; output?: string }): Promise<boolean> {
    return this.transaction(() => {
      if (!this.fenced(lease)) return false;
      return (
        this.all(
          `UPDATE deployment_hosts SET phase = CASE WHEN ?3 THEN ?4 ELSE phase END, output = COALESCE(?5, output)
           WHERE deployment_id = ?1 AND host = ?2 RETURNING host`,
          lease.id,
          host,
          flag(change.phase !== undefined),
          change.phase ?? null,
          change.output ?? null,
        ).length === 1
      );
    });
  }

  recordEvent(lease: LeaseRef, message: string): Promise<boolean> {
    return this.transaction(() => {
      if (!this.fenced(lease)) return false;
      this.addEvent(lease.id, message);
      return true;
    });
  }

  recordFleetRollback(lease: LeaseRef, reason: string, totalMs: number): Promise<boolean> {
    return this.transaction(() => {
      if (!this.fenced(lease)) return false;
      this.all(
        'UPDATE deployments SET fleet_rollback = ?2, deadline_at = MAX(COALESCE(deadline_at, 0), now() + ?3) WHERE id = ?1',
        lease.id,
        reason,
        totalMs,
      );
      this.addEvent(lease.id, `fleet rollback begins: ${reason}`);
      return true;
    });
  }

  recordStatus(lease: LeaseRef, s: StatusToPublish): Promise<boolean> {
    return this.transaction(() => {
      if (!this.fenced(lease)) return false;
      this.enqueue({ ...s, deploymentId: lease.id });
      return true;
    });
  }

  finish(lease: LeaseRef, finish: Finish): Promise<boolean> {
    return this.transaction(() => {
      const rows = this.all(
        `UPDATE deployments SET state = ?3, description = ?4, detail = ?5, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ?1 AND lease_epoch = ?2 AND state IN (SELECT value FROM json_each(?6)) RETURNING id`,
        lease.id,
        lease.epoch,
        finish.state,
        finish.description,
        finish.detail ?? finish.description,
        list(statesBefore(finish.state)),
      );
      if (rows.length !== 1) return false;
      this.addEvent(lease.id, `${finish.state}: ${finish.detail ?? finish.description}`);
      this.enqueue(finish.status);
      return true;
    });
  }

  hosts(id: number): Promise<HostRecord[]> {
    return this.read(() =>
      this.all(
        `SELECT *, CASE WHEN act_deadline IS NULL OR state NOT IN ('running', 'unknown') THEN 0 ELSE MAX(0, act_deadline - now()) END AS in_doubt_ms
         FROM deployment_hosts WHERE deployment_id = ?1 ORDER BY position`,
        id,
      ).map((r) => ({
        host: String(r.host),
        position: Number(r.position),
        state: r.state as HostState,
        phase: (r.phase as HostPhase | null) ?? null,
        message: String(r.message),
        output: String(r.output),
        startedAt: date(r.started_at),
        finishedAt: date(r.finished_at),
        inDoubtForMs: Math.ceil(Number(r.in_doubt_ms)),
      })),
    );
  }

  events(id: number) {
    return this.read(() =>
      this.all('SELECT at, message FROM deployment_events WHERE deployment_id = ?1 ORDER BY seq', id).map((r) => ({
        at: new Date(Number(r.at)),
        message: String(r.message),
      })),
    );
  }

  enqueueStatus(status: StatusToPublish): Promise<void> {
    return this.transaction(() => this.enqueue(status));
  }

  claimStatuses(owner: string, holdMs: number, limit: number, busy: number[]): Promise<PendingStatus[]> {
    // Every pending status of one installation that no other sender holds and that is not backing off,
    // oldest first: one sender per installation keeps the statuses' order.
    return this.transaction(() =>
      this.all(
        `UPDATE status_outbox SET claimed_by = ?1, claimed_until = now() + ?2
         WHERE seq IN (
           SELECT seq FROM status_outbox WHERE done_at IS NULL AND installation_id = (
             SELECT installation_id FROM status_outbox o WHERE done_at IS NULL AND installation_id NOT IN (SELECT value FROM json_each(?4))
               AND NOT EXISTS (SELECT 1 FROM status_outbox h WHERE h.installation_id = o.installation_id AND h.done_at IS NULL
                               AND h.claimed_until >= now() AND (h.claimed_by IS NULL OR h.claimed_by <> ?1))
             ORDER BY seq LIMIT 1)
           ORDER BY seq LIMIT ?3)
         RETURNING *`,
        owner,
        holdMs,
        limit,
        list(busy),
      )
        .map(toPendingStatus)
        .sort((a, b) => a.seq - b.seq),
    );
  }

  markStatusesDone(seqs: number[]): Promise<void> {
    return this.transaction(() => {
      if (seqs.length) this.all('UPDATE status_outbox SET done_at = now() WHERE seq IN (SELECT value FROM json_each(?1))', list(seqs));
    });
  }

  markStatusAttempted(seq: number): Promise<void> {
    return this.transaction(() => {
      this.all('UPDATE status_outbox SET attempts = attempts + 1 WHERE seq = ?1', seq);
    });
  }

  markStatusFailed(seq: number, error: string, retryInMs: number): Promise<void> {
    // Unclaimed but held until the retry time: the whole installation's queue waits (order kept).
    return this.transaction(() => {
      this.all(
        'UPDATE status_outbox SET last_error = ?2, claimed_by = NULL, claimed_until = now() + ?3 WHERE seq = ?1',
        seq,
        error.slice(0, 500),
        retryInMs,
      );
    });
  }

  holdStatuses(owner: string, seqs: number[], holdMs: number): Promise<boolean> {
    if (!seqs.length) return Promise.resolve(true);
    return this.transaction(
      () =>
        this.all(
          'UPDATE status_outbox SET claimed_until = now() + ?3 WHERE seq IN (SELECT value FROM json_each(?2)) AND claimed_by = ?1 AND done_at IS NULL RETURNING seq',
          owner,
          list(seqs),
          holdMs,
        ).length === seqs.length,
    );
  }

  releaseStatuses(seqs: number[]): Promise<void> {
    return this.transaction(() => {
      if (seqs.length)
        this.all(
          'UPDATE status_outbox SET claimed_by = NULL, claimed_until = NULL WHERE seq IN (SELECT value FROM json_each(?1)) AND done_at IS NULL',
          list(seqs),
        );
    });
  }

  setGitHubState(id: number, state: string): Promise<void> {
    return this.transaction(() => {
      this.all('UPDATE deployments SET github_state = ?2 WHERE id = ?1', id, state);
    });
  }

  deployment(id: number): Promise<DeploymentRecord | null> {
    return this.read(() => {
      const row = this.get('SELECT * FROM deployments WHERE id = ?1', id);
      return row ? toDeployment(row) : null;
    });
  }

  deployments(filter: Parameters<Store['deployments']>[0]): Promise<DeploymentRecord[]> {
    return this.read(() =>
      this.all(
        `SELECT * FROM deployments WHERE (?1 IS NULL OR repository = ?1) AND (?2 IS NULL OR environment = ?2)
           AND (?3 IS NULL OR state IN (SELECT value FROM json_each(?3))) AND (?4 IS NULL OR task = ?4)
         ORDER BY received_at DESC, id DESC LIMIT ?5`,
        filter.repository ?? null,
        filter.environment ?? null,
        filter.states ? list(filter.states) : null,
        filter.task ?? null,
        filter.limit ?? 100,
      ).map(toDeployment),
    );
  }

  activity(): Promise<EnvironmentActivity[]> {
    return this.read(() =>
      this.all(
        `SELECT repository, environment, SUM(state = 'running') AS running, SUM(state = 'queued') AS waiting,
           COALESCE(now() - MIN(CASE WHEN state = 'queued' THEN queued_at END), 0) AS oldest_waiting_ms
         FROM deployments WHERE state IN ('queued', 'running') GROUP BY repository, environment`,
      ).map((r) => ({
        repository: String(r.repository),
        environment: String(r.environment),
        running: Number(r.running),
        waiting: Number(r.waiting),
        oldestWaitingSeconds: Math.max(0, Number(r.oldest_waiting_ms) / 1000),
      })),
    );
  }

  requestCancel(repository: string, environment: string, by: string, rollback = false): Promise<DeploymentRecord[]> {
    return this.transaction(() =>
      this.all(
        `UPDATE deployments SET cancel_requested_by = ?3, cancel_rollback = ?4 WHERE repository = ?1 AND environment = ?2 AND (state = 'queued' OR (state = 'running' AND workflow_run_id IS NULL)) AND cancel_requested_by IS NULL RETURNING *`,
        repository,
        environment,
        by,
        flag(rollback),
      ).map(toDeployment),
    );
  }

  cancelQueued(id: number, status: StatusToPublish): Promise<boolean> {
    return this.transaction(() => {
      const rows = this.all(
        `UPDATE deployments SET state = 'cancelled', description = ?2, finished_at = now() WHERE id = ?1 AND state = 'queued' RETURNING id`,
        id,
        status.description,
      );
      if (!rows.length) return false;
      this.addEvent(id, status.description);
      this.enqueue(status);
      this.enqueueReview({ deploymentId: id, state: 'rejected', comment: status.description });
      return true;
    });
  }

  endGated(id: number, end: GatedEnd): Promise<boolean> {
    return this.transaction(() => {
      // An approved job ends as its deploy did; one still waiting can only have been cancelled.
      const rows = this.all(
        `UPDATE deployments SET state = CASE WHEN state = 'running' THEN ?2 ELSE 'cancelled' END, description = ?3, finished_at = now()
         WHERE id = ?1 AND workflow_run_id IS NOT NULL AND state IN ('running', 'queued') RETURNING state`,
        id,
        end.state,
        end.description,
      );
      if (!rows.length) return false;
      this.addEvent(id, `${String(rows[0]!.state)}: ${end.description}`);
      return true;
    });
  }

  endOverdueGated(): Promise<DeploymentRecord[]> {
    return this.transaction(() => {
      const rows = this.all(
        `UPDATE deployments SET state = 'error', finished_at = now(),
           description = 'no end reported by workflow run ' || workflow_run_id || ' within timeouts.total; environment released, outcome unknown'
         WHERE workflow_run_id IS NOT NULL AND state = 'running' AND deadline_at < now() RETURNING *`,
      );
      for (const row of rows) this.addEvent(Number(row.id), `error: ${String(row.description)}`);
      return rows.map(toDeployment);
    });
  }

  claimGateReviews(owner: string, holdMs: number, limit: number): Promise<PendingGateReview[]> {
    return this.transaction(() =>
      this.all(
        `UPDATE gate_reviews SET claimed_by = ?1, claimed_until = now() + ?2
         WHERE seq IN (SELECT seq FROM gate_reviews WHERE done_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
                       ORDER BY seq LIMIT ?3)
         RETURNING *`,
        owner,
        holdMs,
        limit,
      )
        .map(toPendingGateReview)
        .sort((a, b) => a.seq - b.seq),
    );
  }

  markGateReviewAttempted(seq: number): Promise<void> {
    return this.transaction(() => {
      this.all('UPDATE gate_reviews SET attempts = attempts + 1 WHERE seq = ?1', seq);
    });
  }

  markGateReviewDone(seq: number): Promise<void> {
    return this.transaction(() => {
      this.all('UPDATE gate_reviews SET done_at = now() WHERE seq = ?1', seq);
    });
  }

  markGateReviewFailed(seq: number, error: string, retryInMs: number): Promise<void> {
    return this.transaction(() => {
      this.all(
        'UPDATE gate_reviews SET last_error = ?2, claimed_by = NULL, claimed_until = now() + ?3 WHERE seq = ?1',
        seq,
        error.slice(0, 500),
        retryInMs,
      );
    });
  }

  lock(repository: string, environment: string, owner: string, reason: string): Promise<EnvironmentLock> {
    return this.transaction(() => {
      const current = this.environmentRow(repository, environment);
      if (current) return current; // already held: the caller compares owners
      this.all(
        'UPDATE environments SET lock_owner = ?3, lock_reason = ?4, locked_at = now() WHERE repository = ?1 AND environment = ?2',
        repository,
        environment,
        owner,
        reason,
      );
      return this.environmentRow(repository, environment)!;
    });
  }

  unlock(repository: string, environment: string, owner: string): Promise<EnvironmentLock | null> {
    return this.transaction(() => {
      const current = this.environmentRow(repository, environment);
      if (current?.owner !== owner) return null;
      this.all(
        'UPDATE environments SET lock_owner = NULL, lock_reason = NULL, locked_at = NULL WHERE repository = ?1 AND environment = ?2',
        repository,
        environment,
      );
      return current;
    });
  }

  environmentLock(repository: string, environment: string): Promise<EnvironmentLock | null> {
    return this.read(() => {
      const row = this.get(
        'SELECT lock_owner, lock_reason, locked_at FROM environments WHERE repository = ?1 AND environment = ?2',
        repository,
        environment,
      );
      return row ? lockFrom(row) : null;
    });
  }

  environments(repository: string): Promise<string[]> {
    return this.read(() =>
      this.all(
        `SELECT environment FROM environments WHERE repository = ?1
         UNION SELECT environment FROM deployments WHERE repository = ?1 ORDER BY environment`,
        repository,
      ).map((r) => String(r.environment)),
    );
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.database.close();
  }
}

/** As in sql-store.ts: a host whose last command may still act until its recorded hard limit. */
const COMMAND_MAY_STILL_ACT = `SELECT 1 FROM deployments d JOIN deployment_hosts h ON h.deployment_id = d.id
  WHERE d.repository = q.repository AND d.environment = q.environment AND h.act_deadline > now() AND d.state <> 'running'`;

function date(value: unknown): Date | null {
  return value === null || value === undefined ? null : new Date(Number(value));
}
