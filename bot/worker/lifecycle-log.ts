// A deployment's story in the bot's log: one `info` line per step (received, refused and why, queued,
// started, each host's end, finished with its state and duration), each carrying the same fields —
// deployment id, repository, environment and short SHA — so one deploy can be followed with a filter.
// Log links are never written here: they carry a signature (bot/log.ts masks one that slips through).
import type { Logger } from 'pino';
import type { Admission } from '../engine/admission.ts';
import type { HostState } from '../engine/outcomes.ts';

interface Identified {
  id: number;
  repository: string;
  environment: string;
  sha: string;
}

export function deploymentFields(deployment: Identified) {
  return {
    deployment: deployment.id,
    repository: deployment.repository,
    environment: deployment.environment,
    sha: deployment.sha.slice(0, 7),
  };
}

export class LifecycleLog {
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  /**
   * Logged when admission has found the deployment to be shipguard's (one that is not gets only a debug
   * line: docs/engine-rules.md, "Whose deployments"), just before its decision.
   */
  admitted(record: Identified & { requestedBy: string; task: string; forced: boolean }, admission: Admission): void {
    const { requestedBy, task, forced } = record;
    this.log.info({ ...deploymentFields(record), requestedBy, task, forced }, 'deployment received');
    if (admission.kind === 'refuse') {
      this.log.info({ ...deploymentFields(record), why: admission.description }, 'deployment refused');
      return;
    }
    this.log.info(deploymentFields(record), 'deployment queued');
    for (const older of admission.supersede) {
      this.log.info(
        { deployment: older, repository: record.repository, environment: record.environment, by: record.id },
        'deployment superseded',
      );
    }
  }

  started(record: Identified, hosts: number): void {
    this.log.info({ ...deploymentFields(record), hosts }, 'deployment started');
  }

  hostEnded(record: Identified, host: string, outcome: HostState, ms: number, message: string | undefined): void {
    const fields = { ...deploymentFields(record), host, outcome, seconds: seconds(ms), ...(message ? { why: message } : {}) };
    this.log.info(fields, 'host finished');
  }

  finished(record: Identified & { startedAt: Date | null }, state: string, description: string): void {
    const ms = record.startedAt ? Date.now() - record.startedAt.getTime() : 0;
    this.log.info({ ...deploymentFields(record), state, seconds: seconds(ms), description }, 'deployment finished');
  }
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
