// What identifies a deploy intent, shared by the Action (which builds payloads) and the bot (which
// refuses duplicates): one definition, so the two sides can never disagree.

export interface DeployIntent {
  repository: string; // owner/name
  environment: string;
  sha: string;
  task: string;
}

/** Engine rule 1: the duplicate key is (repository, environment, sha, task). */
export function duplicateKey(intent: DeployIntent): string {
  return [intent.repository, intent.environment, intent.sha, intent.task].join('|');
}

/** The fields shipguard reads from a deployment's payload (beside whatever users add). */
export interface ShipguardPayload {
  force?: boolean;
  requested_by?: string;
  idempotency_key?: string;
  [extra: string]: unknown;
}

/** The Action's own key for one create call: `<run_id>/<run_attempt>/<job>/<environment>`. */
export function actionIdempotencyKey(runId: string | number, runAttempt: string | number, job: string, environment: string): string {
  return `${runId}/${runAttempt}/${job}/${environment}`;
}

/** `force: true` in a payload, and only the boolean true, forces a new run of a known intent. */
export function isForced(payload: unknown): boolean {
  return typeof payload === 'object' && payload !== null && (payload as ShipguardPayload).force === true;
}

export const TERMINAL_STATUS_STATES = ['success', 'failure', 'error', 'inactive'] as const;
export type TerminalStatusState = (typeof TERMINAL_STATUS_STATES)[number];

export function isTerminalStatus(state: string): state is TerminalStatusState {
  return (TERMINAL_STATUS_STATES as readonly string[]).includes(state);
}

/** A refusal as the bot writes it, `duplicate of #1042 (running)`, parsed back by the Action. */
export function duplicateDescription(originalId: number | string, originalState: string): string {
  return `duplicate of #${originalId} (${originalState})`;
}

export function parseDuplicateDescription(description: string | null | undefined): { originalId: number; state: string } | null {
  const match = /duplicate of #(\d+) \(([a-z_ ]+)\)/.exec(description ?? '');
  return match ? { originalId: Number(match[1]), state: match[2]! } : null;
}
