// The Store on PostgreSQL (several replicas share it). sqlite-store.ts is its twin for the embedded store:
// the same methods, statement for statement, in SQLite's dialect; the row mappings here serve both.
import { duplicateKey } from '../../common/deploy-intent.ts';
import { sameAdmissionFacts, type Admission, type AdmissionFacts, type EnvironmentLock } from '../engine/admission.ts';
import { approvalReview, MAX_PROGRESS_COMMENTS, type GateReviewToSend } from '../engine/gate-reviews.ts';
import { rolloutHosts } from '../engine/deploy-config.ts';
import { statesBefore, type DeploymentState } from '../engine/states.ts';
import type { ActingPhase, HostPhase, HostState } from '../engine/outcomes.ts';
import { migrate } from './migrations.ts';
import type { SqlClient, SqlExecutor } from './sql-client.ts';
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
import type { StatusToPublish } from '../engine/status-for.ts';
import type { GatedEnd } from '../engine/gated-end.ts';

type Row = Record<string, unknown>;

export async function openSqlStore(db: SqlClient): Promise<Store> {
  await migrate(db);
  return new SqlStore(db);
}

class SqlStore implements Store {
  private readonly db: SqlClient;

  constructor(db: SqlClient) {
    this.db = db;
  }

  async recordDelivery(guid: string, event: string): Promise<boolean> {
    const rows = await this.db.query('INSERT INTO webhook_deliveries (guid, event) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING guid', [
      guid,
      event,
    ]);
    return rows.length === 1;
  }

  async hasDelivery(guid: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM webhook_deliveries WHERE guid = $1', [guid])).length === 1;
  }

  async recordReceived(d: NewDeployment, delivery?: { guid: string; event: string }): Promise<boolean> {
    // One statement: the deployment, its first timeline entry and the delivery land together or not
    // at all, and a burst of webhooks costs one round trip each.
    const run = d.workflowRunId ? ` (workflow run ${d.workflowRunId}, waiting for shipguard's approval)` : '';
    const event = `received: ${d.environment} ${d.sha.slice(0, 12)} (${d.ref}) requested by @${d.requestedBy}${d.forced ? ', forced' : ''}${run}`;
    const rows = await this.db.query(
      `WITH inserted AS (
         INSERT INTO deployments (id, installation_id, repository, environment, sha, ref, task, duplicate_key, forced, requested_by, payload, state, workflow_run_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'received', $15) ON CONFLICT (id) DO NOTHING RETURNING id),
       timeline AS (INSERT INTO deployment_events (deployment_id, message) SELECT id, $12 FROM inserted),
       delivery AS (INSERT INTO webhook_deliveries (guid, event) SELECT $13, $14 WHERE $13::text IS NOT NULL ON CONFLICT DO NOTHING)
       SELECT id FROM inserted`,
      [
        d.id,
        d.installationId,
        d.repository,
        d.environment,
        d.sha,
        d.ref,
        d.task,
        duplicateKey(d),
        d.forced,
        d.requestedBy,
        JSON.stringify(d.payload),
        event,
        delivery?.guid ?? null,
        delivery?.event ?? 'deployment',
        d.workflowRunId ?? null,
      ],
    );
    return rows.length === 1;
  }

  async forgetReceived(id: number): Promise<void> {
    await this.db.query(
      `WITH gone AS (DELETE FROM deployments WHERE id = $1 AND state = 'received' RETURNING id)
       DELETE FROM deployment_events WHERE deployment_id IN (SELECT id FROM gone)`,
      [id],
    );
  }

  async claimReceived(owner: string, holdMs: number, limit: number): Promise<DeploymentRecord[]> {
    const rows = await this.db.query(
      `UPDATE deployments SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2::float8 / 1000)
       WHERE id IN (SELECT id FROM deployments WHERE state = 'received' AND (lease_expires_at IS NULL OR lease_expires_at < now())
                    ORDER BY received_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, holdMs, limit],
    );
    return rows.map(toDeployment).sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime() || a.id - b.id);
  }

  async replaceEarlierAttempts(id: number, runId: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      // A run has one attempt at a time: an earlier attempt still open here ended without a word (the run
      // was cancelled, then re-run) and must neither block this one as its duplicate nor be approved for it.
      const replaced = await tx.query(
        `UPDATE deployments SET state = CASE WHEN state = 'running' THEN 'error' ELSE 'cancelled' END, finished_at = now(),
           description = 'an earlier attempt of workflow run ' || workflow_run_id || ', replaced by #' || $2::bigint || '; its end was not reported'
         WHERE workflow_run_id = $1 AND id <> $2::bigint AND state IN ('queued', 'running') RETURNING id, description`,
        [runId, id],
      );
      for (const old of replaced) await addEventIn(tx, Number(old.id), String(old.description));
    });
  }

  admissionFacts(id: number, inputs: AdmissionInputs): Promise<AdmissionFacts | null> {
    return this.db.transaction((tx) => readAdmissionFacts(tx, id, inputs));
  }

  applyAdmission(
    decidedOn: AdmissionFacts,
    admission: Admission,
    statuses: StatusToPublish[],
    reviews: GateReviewToSend[],
  ): Promise<AdmissionApplied> {
    return this.db.transaction(async (tx) => {
      const id = decidedOn.candidate.id;
      const facts = await readAdmissionFacts(tx, id, decidedOn);
      if (!facts) return 'gone';
      if (!sameAdmissionFacts(decidedOn, facts)) return 'changed';
      const envConfig = facts.config.ok ? facts.config.environment : null;
      if (admission.kind === 'refuse') {
        await tx.query(
          `UPDATE deployments SET state = 'refused', description = $2, detail = $3, duplicate_of = $4, lease_owner = NULL, lease_expires_at = NULL, finished_at = now()
           WHERE id = $1 AND state = ANY($5::text[])`,
          [id, admission.description, admission.detail, admission.duplicateOf, statesBefore('refused')],
        );
        await addEventIn(tx, id, `refused: ${admission.detail}`);
      } else {
        await tx.query(
          `UPDATE deployments SET state = 'queued', config = $2, environment_url = $3, lease_owner = NULL, lease_expires_at = NULL, queued_at = now(), description = $5
           WHERE id = $1 AND state = ANY($4::text[])`,
          [id, JSON.stringify(envConfig), envConfig?.url ?? null, statesBefore('queued'), admission.description ?? 'queued'],
        );
        await addEventIn(tx, id, 'queued');
        if (admission.note) await addEventIn(tx, id, admission.note);
        for (const older of admission.supersede) {
          await tx.query(
            `UPDATE deployments SET state = 'superseded', description = $2, finished_at = now() WHERE id = $1 AND state = ANY($3::text[])`,
            [older, `superseded by #${id}`, statesBefore('superseded')],
          );
          await addEventIn(tx, older, `superseded by #${id}`);
        }
      }
      for (const status of statuses) await enqueueIn(tx, status);
      for (const review of reviews) await enqueueReviewIn(tx, review);
      return 'applied';
    });
  }

  async claimNext(
    owner: string,
    leaseMs: number,
    startedStatus: (record: DeploymentRecord) => StatusToPublish,
    held?: (record: DeploymentRecord) => boolean,
  ): Promise<DeploymentRecord | null> {
    const candidates = await this.db.query(
      `SELECT DISTINCT ON (repository, environment) id, repository, environment FROM deployments q
       WHERE state = 'queued' AND NOT EXISTS (SELECT 1 FROM deployments r WHERE r.repository = q.repository AND r.environment = q.environment AND r.state = 'running')
         AND NOT EXISTS (${COMMAND_MAY_STILL_ACT.replace('$1', 'q.repository').replace('$2', 'q.environment')})
       ORDER BY repository, environment, queued_at, id LIMIT 20`,
    );
    for (const candidate of candidates) {
      const claimed = await this.db.transaction(async (tx) => {
        await lockEnvironment(tx, String(candidate.repository), String(candidate.environment));
        const running = await tx.query("SELECT 1 FROM deployments WHERE repository = $1 AND environment = $2 AND state = 'running'", [
          candidate.repository,
          candidate.environment,
        ]);
        if (running.length) return null;
        if ((await tx.query(COMMAND_MAY_STILL_ACT, [candidate.repository, candidate.environment])).length) return null;
        const [next] = await tx.query(
          "SELECT * FROM deployments WHERE repository = $1 AND environment = $2 AND state = 'queued' ORDER BY queued_at, id LIMIT 1 FOR UPDATE",
          [candidate.repository, candidate.environment],
        );
        if (!next) return null;
        const record = toDeployment(next);
        if (held?.(record)) return null;
        const [previous] = await tx.query(
          "SELECT sha FROM deployments WHERE repository = $1 AND environment = $2 AND task = 'deploy' AND state = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1",
          [record.repository, record.environment],
        );
        const totalMs = record.config?.timeouts.total ?? 7_200_000;
        // A gated job holds no lease: nothing of it runs here, so there is nothing to take over.
        const [started] = await tx.query(
          `UPDATE deployments SET state = 'running', lease_owner = CASE WHEN workflow_run_id IS NULL THEN $2 END,
             lease_expires_at = CASE WHEN workflow_run_id IS NULL THEN now() + make_interval(secs => $3::float8 / 1000) END, lease_epoch = lease_epoch + 1,
             started_at = now(), deadline_at = now() + make_interval(secs => $4::float8 / 1000), previous_sha = $5,
             description = CASE WHEN workflow_run_id IS NULL THEN 'starting' ELSE 'deploying in workflow run ' || workflow_run_id END
           WHERE id = $1 AND state = ANY($6::text[]) RETURNING *`,
          [record.id, owner, leaseMs, totalMs, previous ? String(previous.sha) : null, statesBefore('running')],
        );
        const startedRecord = toDeployment(started!);
        for (const [position, host] of (record.config ? rolloutHosts(record.config) : []).entries()) {
          await tx.query(
            "INSERT INTO deployment_hosts (deployment_id, position, host, state) VALUES ($1, $2, $3, 'pending') ON CONFLICT DO NOTHING",
            [record.id, position, host],
          );
        }
        if (startedRecord.workflowRunId !== null) {
          await addEventIn(tx, record.id, `approved by ${owner}: workflow run ${startedRecord.workflowRunId} deploys`);
          await enqueueReviewIn(tx, approvalReview(record.id, record.environment));
          return startedRecord;
        }
        await addEventIn(tx, record.id, `started by ${owner}`);
        await enqueueIn(tx, startedStatus(startedRecord));
        return startedRecord;
      });
      if (claimed) return claimed;
    }
    return null;
  }

  async takeOverLapsed(owner: string, leaseMs: number, exclude: number[]): Promise<DeploymentRecord | null> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(
        `UPDATE deployments SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2::float8 / 1000), lease_epoch = lease_epoch + 1
         WHERE id = (SELECT id FROM deployments WHERE state = 'running' AND lease_expires_at < now() AND NOT (id = ANY($3::bigint[]))
                     ORDER BY lease_expires_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
        [owner, leaseMs, exclude],
      );
      if (!rows[0]) return null;
      const record = toDeployment(rows[0]);
      await addEventIn(tx, record.id, `taken over by ${owner}: the lease of the bot running it lapsed`);
      return record;
    });
  }

  async renewLease(lease: LeaseRef, leaseMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE deployments SET lease_expires_at = now() + make_interval(secs => $3::float8 / 1000) WHERE id = $1 AND lease_epoch = $2 AND state = 'running' RETURNING id`,
      [lease.id, lease.epoch, leaseMs],
    );
    return rows.length === 1;
  }

  async releaseLease(lease: LeaseRef): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE deployments SET lease_owner = NULL, lease_expires_at = now() - interval '1 second' WHERE id = $1 AND lease_epoch = $2 AND state = 'running' RETURNING id`,
      [lease.id, lease.epoch],
    );
    return rows.length === 1;
  }

  async recordHostIntent(lease: LeaseRef, host: string, phase: ActingPhase, hardLimitMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `WITH fence AS (${FENCE}),
       intent AS (UPDATE deployment_hosts h SET state = 'running', phase = $4, started_at = COALESCE(h.started_at, now()),
                    act_deadline = now() + make_interval(secs => $5::float8 / 1000)
                  FROM fence WHERE h.deployment_id = fence.id AND h.host = $3 RETURNING h.host),
       timeline AS (INSERT INTO deployment_events (deployment_id, message) SELECT $1, $6 FROM intent)
       SELECT host FROM intent`,
      [lease.id, lease.epoch, host, phase, hardLimitMs, `${host}: ${phase} starting`],
    );
    return rows.length === 1;
  }

  async recordHostEnd(lease: LeaseRef, host: string, end: HostEnd): Promise<boolean> {
    const rows = await this.db.query(
      `WITH fence AS (${FENCE}),
       ended AS (UPDATE deployment_hosts h SET state = $4, message = $5, phase = NULL, finished_at = now(),
                   act_deadline = CASE WHEN $6::boolean THEN NULL ELSE h.act_deadline END
                 FROM fence WHERE h.deployment_id = fence.id AND h.host = $3 RETURNING h.host),
       timeline AS (INSERT INTO deployment_events (deployment_id, message) SELECT $1, $7 FROM ended)
       SELECT host FROM ended`,
      [
        lease.id,
        lease.epoch,
        host,
        end.outcome,
        end.message,
        end.settled,
        `${host}: ${end.outcome}${end.message ? ` (${end.message})` : ''}`,
      ],
    );
    return rows.length === 1;
  }

  async recordHostProgress(lease: LeaseRef, host: string, change: { phase?: HostPhase | null; output?: string }): Promise<boolean> {
    const rows = await this.db.query(
      `WITH fence AS (${FENCE})
       UPDATE deployment_hosts h SET phase = CASE WHEN $4::boolean THEN $5 ELSE h.phase END, output = COALESCE($6, h.output)
       FROM fence WHERE h.deployment_id = fence.id AND h.host = $3 RETURNING h.host`,
      [lease.id, lease.epoch, host, change.phase !== undefined, change.phase ?? null, change.output ?? null],
    );
    return rows.length === 1;
  }

  async recordEvent(lease: LeaseRef, message: string): Promise<boolean> {
    const rows = await this.db.query(
      `WITH fence AS (${FENCE}) INSERT INTO deployment_events (deployment_id, message) SELECT id, $3 FROM fence RETURNING seq`,
      [lease.id, lease.epoch, message],
    );
    return rows.length === 1;
  }

  async recordFleetRollback(lease: LeaseRef, reason: string, totalMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `WITH fence AS (${FENCE}),
       marked AS (UPDATE deployments d SET fleet_rollback = $3,
                    deadline_at = GREATEST(d.deadline_at, now() + make_interval(secs => $4::float8 / 1000))
                  FROM fence WHERE d.id = fence.id RETURNING d.id),
       timeline AS (INSERT INTO deployment_events (deployment_id, message) SELECT id, $5 FROM marked)
       SELECT id FROM marked`,
      [lease.id, lease.epoch, reason, totalMs, `fleet rollback begins: ${reason}`],
    );
    return rows.length === 1;
  }

  async recordStatus(lease: LeaseRef, s: StatusToPublish): Promise<boolean> {
    const rows = await this.db.query(
      `WITH fence AS (${FENCE})
       INSERT INTO status_outbox (deployment_id, installation_id, repository, kind, state, description, log_url, environment_url)
       SELECT id, $3, $4, $5, $6, $7, $8, $9 FROM fence RETURNING seq`,
      [lease.id, lease.epoch, s.installationId, s.repository, s.kind, s.state, s.description, s.logUrl, s.environmentUrl],
    );
    return rows.length === 1;
  }

  async finish(lease: LeaseRef, finish: Finish): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(
        `UPDATE deployments SET state = $3, description = $4, detail = $5, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1 AND lease_epoch = $2 AND state = ANY($6::text[]) RETURNING id`,
        [lease.id, lease.epoch, finish.state, finish.description, finish.detail ?? finish.description, statesBefore(finish.state)],
      );
      if (rows.length !== 1) return false;
      await addEventIn(tx, lease.id, `${finish.state}: ${finish.detail ?? finish.description}`);
      await enqueueIn(tx, finish.status);
      return true;
    });
  }

  async hosts(id: number): Promise<HostRecord[]> {
    const rows = await this.db.query(
      `SELECT *, CASE WHEN act_deadline IS NULL OR state NOT IN ('running', 'unknown') THEN 0
                      ELSE GREATEST(0, EXTRACT(EPOCH FROM (act_deadline - now())) * 1000) END AS in_doubt_ms
       FROM deployment_hosts WHERE deployment_id = $1 ORDER BY position`,
      [id],
    );
    return rows.map((r) => ({
      host: String(r.host),
      position: Number(r.position),
      state: r.state as HostState,
      phase: (r.phase as HostPhase | null) ?? null,
      message: String(r.message),
      output: String(r.output),
      startedAt: date(r.started_at),
      finishedAt: date(r.finished_at),
      inDoubtForMs: Math.ceil(Number(r.in_doubt_ms)),
    }));
  }

  async events(id: number) {
    const rows = await this.db.query('SELECT at, message FROM deployment_events WHERE deployment_id = $1 ORDER BY seq', [id]);
    return rows.map((r) => ({ at: new Date(r.at as string), message: String(r.message) }));
  }

  async enqueueStatus(status: StatusToPublish): Promise<void> {
    await enqueueIn(this.db, status);
  }

  async claimStatuses(owner: string, holdMs: number, limit: number, busy: number[]): Promise<PendingStatus[]> {
    // Every pending status of one installation that no other replica holds and that is not backing
    // off, oldest first: one sender per installation keeps the statuses' order.
    const rows = await this.db.query(
      `UPDATE status_outbox SET claimed_by = $1, claimed_until = now() + make_interval(secs => $2::float8 / 1000)
       WHERE seq IN (
         SELECT seq FROM status_outbox WHERE done_at IS NULL AND installation_id = (
           SELECT installation_id FROM status_outbox o WHERE done_at IS NULL AND NOT (installation_id = ANY($4::bigint[]))
             AND NOT EXISTS (SELECT 1 FROM status_outbox h WHERE h.installation_id = o.installation_id AND h.done_at IS NULL
                             AND h.claimed_until >= now() AND (h.claimed_by IS NULL OR h.claimed_by <> $1))
           ORDER BY seq LIMIT 1)
         ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, holdMs, limit, busy],
    );
    return rows.map(toPendingStatus).sort((a, b) => a.seq - b.seq);
  }

  async markStatusesDone(seqs: number[]): Promise<void> {
    if (seqs.length) await this.db.query('UPDATE status_outbox SET done_at = now() WHERE seq = ANY($1::bigint[])', [seqs]);
  }

  async markStatusAttempted(seq: number): Promise<void> {
    await this.db.query('UPDATE status_outbox SET attempts = attempts + 1 WHERE seq = $1', [seq]);
  }

  async markStatusFailed(seq: number, error: string, retryInMs: number): Promise<void> {
    // Unclaimed but held until the retry time: the whole installation's queue waits (order kept).
    await this.db.query(
      'UPDATE status_outbox SET last_error = $2, claimed_by = NULL, claimed_until = now() + make_interval(secs => $3::float8 / 1000) WHERE seq = $1',
      [seq, error.slice(0, 500), retryInMs],
    );
  }

  async holdStatuses(owner: string, seqs: number[], holdMs: number): Promise<boolean> {
    if (!seqs.length) return true;
    const rows = await this.db.query(
      'UPDATE status_outbox SET claimed_until = now() + make_interval(secs => $3::float8 / 1000) WHERE seq = ANY($2::bigint[]) AND claimed_by = $1 AND done_at IS NULL RETURNING seq',
      [owner, seqs, holdMs],
    );
    return rows.length === seqs.length;
  }

  async releaseStatuses(seqs: number[]): Promise<void> {
    if (seqs.length)
      await this.db.query(
        'UPDATE status_outbox SET claimed_by = NULL, claimed_until = NULL WHERE seq = ANY($1::bigint[]) AND done_at IS NULL',
        [seqs],
      );
  }

  async setGitHubState(id: number, state: string): Promise<void> {
    await this.db.query('UPDATE deployments SET github_state = $2 WHERE id = $1', [id, state]);
  }

  async deployment(id: number): Promise<DeploymentRecord | null> {
    const [row] = await this.db.query('SELECT * FROM deployments WHERE id = $1', [id]);
    return row ? toDeployment(row) : null;
  }

  async deployments(filter: Parameters<Store['deployments']>[0]): Promise<DeploymentRecord[]> {
    const rows = await this.db.query(
      `SELECT * FROM deployments WHERE ($1::text IS NULL OR repository = $1) AND ($2::text IS NULL OR environment = $2)
         AND ($3::text[] IS NULL OR state = ANY($3::text[])) AND ($4::text IS NULL OR task = $4)
       ORDER BY received_at DESC, id DESC LIMIT $5`,
      [filter.repository ?? null, filter.environment ?? null, filter.states ?? null, filter.task ?? null, filter.limit ?? 100],
    );
    return rows.map(toDeployment);
  }

  async requestCancel(repository: string, environment: string, by: string, rollback = false): Promise<DeploymentRecord[]> {
    const rows = await this.db.query(
      `UPDATE deployments SET cancel_requested_by = $3, cancel_rollback = $4 WHERE repository = $1 AND environment = $2 AND (state = 'queued' OR (state = 'running' AND workflow_run_id IS NULL)) AND cancel_requested_by IS NULL RETURNING *`,
      [repository, environment, by, rollback],
    );
    return rows.map(toDeployment);
  }

  async activity(): Promise<EnvironmentActivity[]> {
    const rows = await this.db.query(
      `SELECT repository, environment, count(*) FILTER (WHERE state = 'running') AS running, count(*) FILTER (WHERE state = 'queued') AS waiting,
         coalesce(extract(epoch FROM now() - min(queued_at) FILTER (WHERE state = 'queued')), 0) AS oldest_waiting
       FROM deployments WHERE state IN ('queued', 'running') GROUP BY repository, environment`,
    );
    return rows.map((r) => ({
      repository: String(r.repository),
      environment: String(r.environment),
      running: Number(r.running),
      waiting: Number(r.waiting),
      oldestWaitingSeconds: Math.max(0, Number(r.oldest_waiting)),
    }));
  }

  async cancelQueued(id: number, status: StatusToPublish): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(
        `UPDATE deployments SET state = 'cancelled', description = $2, finished_at = now() WHERE id = $1 AND state = 'queued' RETURNING id`,
        [id, status.description],
      );
      if (!rows.length) return false;
      await addEventIn(tx, id, status.description);
      await enqueueIn(tx, status);
      await enqueueReviewIn(tx, { deploymentId: id, state: 'rejected', comment: status.description });
      return true;
    });
  }

  async endGated(id: number, end: GatedEnd): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // An approved job ends as its deploy did; one still waiting can only have been cancelled.
      const rows = await tx.query(
        `UPDATE deployments SET state = CASE WHEN state = 'running' THEN $2 ELSE 'cancelled' END, description = $3, finished_at = now()
         WHERE id = $1 AND workflow_run_id IS NOT NULL AND state IN ('running', 'queued') RETURNING state`,
        [id, end.state, end.description],
      );
      if (!rows.length) return false;
      await addEventIn(tx, id, `${String(rows[0]!.state)}: ${end.description}`);
      return true;
    });
  }

  async endOverdueGated(): Promise<DeploymentRecord[]> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(
        `UPDATE deployments SET state = 'error', finished_at = now(),
           description = 'no end reported by workflow run ' || workflow_run_id || ' within timeouts.total; environment released, outcome unknown'
         WHERE workflow_run_id IS NOT NULL AND state = 'running' AND deadline_at < now() RETURNING *`,
      );
      for (const row of rows) await addEventIn(tx, Number(row.id), `error: ${String(row.description)}`);
      return rows.map(toDeployment);
    });
  }

  async claimGateReviews(owner: string, holdMs: number, limit: number): Promise<PendingGateReview[]> {
    const rows = await this.db.query(
      `UPDATE gate_reviews SET claimed_by = $1, claimed_until = now() + make_interval(secs => $2::float8 / 1000)
       WHERE seq IN (SELECT seq FROM gate_reviews WHERE done_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
                     ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, holdMs, limit],
    );
    return rows.map(toPendingGateReview).sort((a, b) => a.seq - b.seq);
  }

  async markGateReviewAttempted(seq: number): Promise<void> {
    await this.db.query('UPDATE gate_reviews SET attempts = attempts + 1 WHERE seq = $1', [seq]);
  }

  async markGateReviewDone(seq: number): Promise<void> {
    await this.db.query('UPDATE gate_reviews SET done_at = now() WHERE seq = $1', [seq]);
  }

  async markGateReviewFailed(seq: number, error: string, retryInMs: number): Promise<void> {
    await this.db.query(
      'UPDATE gate_reviews SET last_error = $2, claimed_by = NULL, claimed_until = now() + make_interval(secs => $3::float8 / 1000) WHERE seq = $1',
      [seq, error.slice(0, 500), retryInMs],
    );
  }

  async lock(repository: string, environment: string, owner: string, reason: string): Promise<EnvironmentLock> {
    return this.db.transaction(async (tx) => {
      const current = await lockEnvironment(tx, repository, environment);
      if (current) return current; // already held: the caller compares owners
      await tx.query(
        'UPDATE environments SET lock_owner = $3, lock_reason = $4, locked_at = now() WHERE repository = $1 AND environment = $2',
        [repository, environment, owner, reason],
      );
      return (await lockEnvironment(tx, repository, environment))!;
    });
  }

  async unlock(repository: string, environment: string, owner: string): Promise<EnvironmentLock | null> {
    return this.db.transaction(async (tx) => {
      const current = await lockEnvironment(tx, repository, environment);
      if (current?.owner !== owner) return null;
      await tx.query(
        'UPDATE environments SET lock_owner = NULL, lock_reason = NULL, locked_at = NULL WHERE repository = $1 AND environment = $2',
        [repository, environment],
      );
      return current;
    });
  }

  async environmentLock(repository: string, environment: string): Promise<EnvironmentLock | null> {
    const [row] = await this.db.query(
      'SELECT lock_owner, lock_reason, locked_at FROM environments WHERE repository = $1 AND environment = $2',
      [repository, environment],
    );
    return row ? lockFrom(row) : null;
  }

  async environments(repository: string): Promise<string[]> {
    const rows = await this.db.query(
      `SELECT environment FROM environments WHERE repository = $1
       UNION SELECT environment FROM deployments WHERE repository = $1 ORDER BY environment`,
      [repository],
    );
    return rows.map((r) => String(r.environment));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/**
 * The fence of a runner's write: the deployment row, still running under the runner's epoch, locked
 * against a concurrent takeover (which bumps the epoch) until the write commits.
 */
const FENCE = "SELECT id FROM deployments WHERE id = $1 AND lease_epoch = $2 AND state = 'running' FOR SHARE";

/**
 * A host of the environment whose last command's end was never observed may still be running it until
 * its recorded hard limit: no deployment of that environment starts before then (rule 2 for commands
 * that outlive the deployment that started them, e.g. one that ended `unknown`).
 */
const COMMAND_MAY_STILL_ACT = `SELECT 1 FROM deployments d JOIN deployment_hosts h ON h.deployment_id = d.id
  WHERE d.repository = $1 AND d.environment = $2 AND h.act_deadline > now() AND d.state <> 'running'`;

/** Locks the environment's anchor row for the transaction (creating it on first use); returns its /lock. */
/** What admission decides on, read under the environment's lock; null once `id` is no longer `received`. */
async function readAdmissionFacts(tx: SqlExecutor, id: number, inputs: AdmissionInputs): Promise<AdmissionFacts | null> {
  const [head] = await tx.query('SELECT repository, environment FROM deployments WHERE id = $1', [id]);
  if (!head) return null;
  const lock = await lockEnvironment(tx, String(head.repository), String(head.environment));
  const [row] = await tx.query("SELECT * FROM deployments WHERE id = $1 AND state = 'received' FOR UPDATE", [id]);
  if (!row) return null; // admitted meanwhile by another replica
  const record = toDeployment(row);
  const sameKey = await tx.query(
    "SELECT id, state, finished_at, workflow_run_id FROM deployments WHERE duplicate_key = $1 AND id <> $2 AND state <> 'received' ORDER BY received_at, id",
    [duplicateKey(record), id],
  );
  const succeeded = await tx.query(
    "SELECT DISTINCT environment FROM deployments WHERE repository = $1 AND sha = $2 AND task = 'deploy' AND state = 'succeeded'",
    [record.repository, record.sha],
  );
  const waiting = await tx.query(
    "SELECT id FROM deployments WHERE repository = $1 AND environment = $2 AND state = 'queued' ORDER BY queued_at, id",
    [record.repository, record.environment],
  );
  const [running] = await tx.query(
    "SELECT id, workflow_run_id FROM deployments WHERE repository = $1 AND environment = $2 AND state = 'running'",
    [record.repository, record.environment],
  );
  const [live] = await tx.query(
    "SELECT id, sha, finished_at FROM deployments WHERE repository = $1 AND environment = $2 AND task = 'deploy' AND state = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1",
    [record.repository, record.environment],
  );
  const actionKey = typeof record.payload.idempotency_key === 'string' ? record.payload.idempotency_key : null;
  const sameIdempotencyKey = actionKey
    ? await tx.query(
        "SELECT id, state FROM deployments WHERE repository = $1 AND payload->>'idempotency_key' = $2 AND id <> $3 AND state <> 'received' ORDER BY received_at, id",
        [record.repository, actionKey, id],
      )
    : [];
  const [now] = await tx.query<{ now: Date }>('SELECT now() AS now');
  return {
    candidate: record,
    config: inputs.config,
    sameKey: sameKey.map((r) => ({
      id: Number(r.id),
      state: r.state as DeploymentState,
      finishedAt: date(r.finished_at),
      workflowRunId: optionalNumber(r.workflow_run_id),
    })),
    sameIdempotencyKey: sameIdempotencyKey.map((r) => ({ id: Number(r.id), state: r.state as DeploymentState })),
    endedOnGitHub: inputs.endedOnGitHub,
    lock,
    succeededIn: succeeded.map((r) => String(r.environment)),
    waiting: waiting.map((r) => Number(r.id)),
    running: running ? { id: Number(running.id), workflowRunId: optionalNumber(running.workflow_run_id) } : null,
    live: live ? { id: Number(live.id), sha: String(live.sha), finishedAt: date(live.finished_at) } : null,
    gate: inputs.gate ?? null,
    now: new Date(now!.now),
  };
}

async function lockEnvironment(tx: SqlExecutor, repository: string, environment: string): Promise<EnvironmentLock | null> {
  await tx.query('INSERT INTO environments (repository, environment) VALUES ($1, $2) ON CONFLICT DO NOTHING', [repository, environment]);
  const [row] = await tx.query(
    'SELECT lock_owner, lock_reason, locked_at FROM environments WHERE repository = $1 AND environment = $2 FOR UPDATE',
    [repository, environment],
  );
  return lockFrom(row!);
}

export function lockFrom(row: Row): EnvironmentLock | null {
  if (!row.lock_owner) return null;
  return { owner: String(row.lock_owner), reason: String(row.lock_reason ?? ''), lockedAt: new Date(row.locked_at as string) };
}

async function addEventIn(tx: SqlExecutor, id: number, message: string): Promise<void> {
  await tx.query('INSERT INTO deployment_events (deployment_id, message) VALUES ($1, $2)', [id, message]);
}

/** Never a status on a gated job's deployment: GitHub Actions owns those (docs/workflow-gate.md). */
async function enqueueIn(tx: SqlExecutor, s: StatusToPublish): Promise<void> {
  await tx.query(
    `INSERT INTO status_outbox (deployment_id, installation_id, repository, kind, state, description, log_url, environment_url)
     SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE NOT EXISTS (SELECT 1 FROM deployments WHERE id = $1 AND workflow_run_id IS NOT NULL)`,
    [s.deploymentId, s.installationId, s.repository, s.kind, s.state, s.description, s.logUrl, s.environmentUrl],
  );
}

export function toPendingStatus(r: Row): PendingStatus {
  return {
    seq: Number(r.seq),
    deploymentId: Number(r.deployment_id),
    installationId: Number(r.installation_id),
    repository: String(r.repository),
    kind: r.kind as PendingStatus['kind'],
    state: r.state as PendingStatus['state'],
    description: String(r.description),
    logUrl: (r.log_url as string | null) ?? null,
    environmentUrl: (r.environment_url as string | null) ?? null,
    attempts: Number(r.attempts),
  };
}

export function toPendingGateReview(r: Row): PendingGateReview {
  return {
    seq: Number(r.seq),
    deploymentId: Number(r.deployment_id),
    installationId: Number(r.installation_id),
    repository: String(r.repository),
    runId: Number(r.run_id),
    environment: String(r.environment),
    state: (r.state as PendingGateReview['state']) ?? null,
    comment: String(r.comment),
    attempts: Number(r.attempts),
  };
}

/** Queues a review for a gated job (nothing for any other deployment); progress comments within GitHub's limit. */
async function enqueueReviewIn(tx: SqlExecutor, review: GateReviewToSend): Promise<void> {
  await tx.query(
    `INSERT INTO gate_reviews (deployment_id, installation_id, repository, run_id, environment, state, comment)
     SELECT id, installation_id, repository, workflow_run_id, environment, $2, $3 FROM deployments d
     WHERE id = $1 AND workflow_run_id IS NOT NULL
       AND ($2::text IS NOT NULL OR (SELECT count(*) FROM gate_reviews g WHERE g.deployment_id = d.id AND g.state IS NULL) < $4)`,
    [review.deploymentId, review.state, review.comment, MAX_PROGRESS_COMMENTS],
  );
}

function date(value: unknown): Date | null {
  return value === null || value === undefined ? null : new Date(value as string);
}

function optionalNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

export function toDeployment(r: Row): DeploymentRecord {
  return {
    id: Number(r.id),
    installationId: Number(r.installation_id),
    repository: String(r.repository),
    environment: String(r.environment),
    sha: String(r.sha),
    ref: String(r.ref),
    task: String(r.task),
    forced: Boolean(r.forced),
    requestedBy: String(r.requested_by),
    payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
    state: r.state as DeploymentState,
    githubState: (r.github_state as DeploymentRecord['githubState']) ?? null,
    description: String(r.description ?? ''),
    detail: String(r.detail ?? ''),
    duplicateOf: r.duplicate_of === null || r.duplicate_of === undefined ? null : Number(r.duplicate_of),
    config: (typeof r.config === 'string' ? JSON.parse(r.config) : r.config) as DeploymentRecord['config'],
    environmentUrl: (r.environment_url as string | null) ?? null,
    previousSha: (r.previous_sha as string | null) ?? null,
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseExpiresAt: date(r.lease_expires_at),
    leaseEpoch: Number(r.lease_epoch ?? 0),
    cancelRequestedBy: (r.cancel_requested_by as string | null) ?? null,
    cancelRollback: Boolean(r.cancel_rollback),
    fleetRollback: (r.fleet_rollback as string | null) ?? null,
    deadlineAt: date(r.deadline_at),
    receivedAt: new Date(r.received_at as string),
    queuedAt: date(r.queued_at),
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    workflowRunId: optionalNumber(r.workflow_run_id),
  };
}
