// What shipguard tells a workflow job it gates (custom deployment protection rule), as pure functions of
// the engine's decision: approve, reject with the reason and what to do, or a progress comment while the
// job waits its turn. GitHub takes at most 10 progress comments per deployment, each ≤ 1,024 characters.
import type { Admission, AdmissionFacts } from './admission.ts';

/** A review waiting in the store's outbox for a gated job's callback; `state: null` is a progress comment. */
export interface GateReviewToSend {
  deploymentId: number;
  state: 'approved' | 'rejected' | null;
  comment: string;
}

export const MAX_GATE_COMMENT = 1024;
/** GitHub's limit on comments without a state, per deployment. */
export const MAX_PROGRESS_COMMENTS = 10;

/** How a person forces a gated job to deploy a SHA again (README "Workflow jobs"). */
export const FORCE_HINT = 'to deploy it again, run the workflow by workflow_dispatch with a run-name ending in --force';

export function fitGateComment(text: string): string {
  return text.length <= MAX_GATE_COMMENT ? text : `${text.slice(0, MAX_GATE_COMMENT - 1)}…`;
}

function clock(at: Date | null | undefined): string {
  return at ? `${at.toISOString().slice(11, 16)} UTC` : 'an unknown time';
}

function whom(id: number, runId: number | null | undefined): string {
  return runId === null || runId === undefined ? `#${id}` : `#${id}, run ${runId}`;
}

/** The reviews an admission of a gated job implies: for the job itself and for the waiting runs it supersedes. */
export function admissionReviews(admission: Admission, facts: AdmissionFacts): GateReviewToSend[] {
  const { candidate } = facts;
  const superseded = admission.kind === 'queue' ? admission.supersede : [];
  const reviews: GateReviewToSend[] = superseded.map((older) => ({
    deploymentId: older,
    state: 'rejected',
    comment: `superseded by #${candidate.id}${facts.gate ? ` (run ${facts.gate.runId})` : ''}: ${candidate.environment} keeps only the newest waiting deploy (queue: latest)`,
  }));
  if (!facts.gate) return reviews;
  if (admission.kind === 'refuse') {
    reviews.push({ deploymentId: candidate.id, state: 'rejected', comment: fitGateComment(refusalComment(admission, facts)) });
  } else {
    const ahead = facts.waiting.filter((id) => id !== candidate.id && !superseded.includes(id)).length;
    if (facts.running || ahead) {
      const first = facts.running ? `waiting for ${whom(facts.running.id, facts.running.workflowRunId)} to finish` : 'waiting for its turn';
      reviews.push({
        deploymentId: candidate.id,
        state: null,
        comment: `${first}; ${ahead} ahead in the queue of ${candidate.environment}`,
      });
    }
  }
  return reviews;
}

function refusalComment(admission: Extract<Admission, { kind: 'refuse' }>, facts: AdmissionFacts): string {
  const { candidate } = facts;
  const sha = candidate.sha.slice(0, 7);
  const original = facts.sameKey.find((other) => other.id === admission.duplicateOf);
  if (!original) return admission.detail;
  const who = whom(original.id, original.workflowRunId);
  switch (original.state) {
    case 'succeeded':
      return facts.live?.sha === candidate.sha
        ? `${sha} is already live on ${candidate.environment} since ${clock(original.finishedAt)} (${who}); ${FORCE_HINT}`
        : `${sha} was already deployed to ${candidate.environment} at ${clock(original.finishedAt)} (${who}); ${FORCE_HINT}`;
    case 'running':
      return `${sha} is being deployed to ${candidate.environment} now (${who})`;
    default:
      return `${sha} is already waiting to deploy to ${candidate.environment} (${who})`;
  }
}

export function approvalReview(deploymentId: number, environment: string): GateReviewToSend {
  return { deploymentId, state: 'approved', comment: `approved by shipguard: ${environment} is free; this job deploys now` };
}
