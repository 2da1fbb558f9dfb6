// What the bot reads from GitHub about a gated workflow job: its run (event, run-name, state), the role of
// the user who triggered it, and the required checks that are not green on its SHA.
import { splitRepository, withFreshToken, type GitHubAccess } from './github-access.ts';

const READ_TIMEOUT_MS = 15_000;

export interface WorkflowRunFacts {
  event: string;
  displayTitle: string;
  /** `queued`, `waiting`, `in_progress`, `completed`, … */
  status: string | null;
  conclusion: string | null;
}

export async function workflowRun(
  access: GitHubAccess,
  installationId: number,
  repository: string,
  runId: number,
): Promise<WorkflowRunFacts> {
  const { data } = await withFreshToken(access, installationId, (client) =>
    client.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}', {
      ...splitRepository(repository),
      run_id: runId,
      request: { signal: AbortSignal.timeout(READ_TIMEOUT_MS) },
    }),
  );
  return { event: data.event, displayTitle: data.display_title, status: data.status ?? null, conclusion: data.conclusion ?? null };
}

/** GitHub's answer on a user's access: the role name and the legacy permission it maps to (404: none). */
export async function userPermission(
  access: GitHubAccess,
  installationId: number,
  repository: string,
  username: string,
): Promise<{ roleName: string | null; permission: string | null }> {
  try {
    const { data } = await withFreshToken(access, installationId, (client) =>
      client.request('GET /repos/{owner}/{repo}/collaborators/{username}/permission', {
        ...splitRepository(repository),
        username,
        request: { signal: AbortSignal.timeout(READ_TIMEOUT_MS) },
      }),
    );
    return { roleName: data.role_name ?? null, permission: data.permission ?? null };
  } catch (error) {
    if ((error as { status?: number }).status === 404) return { roleName: null, permission: null };
    throw error;
  }
}

/**
 * The `required` contexts that are not green on `sha`, with their state (`missing` when none reported):
 * a commit status counts by its newest state, a check run when it completed as success, neutral or skipped.
 */
export async function failingContexts(
  access: GitHubAccess,
  installationId: number,
  repository: string,
  sha: string,
  required: string[],
): Promise<Array<{ context: string; state: string }>> {
  if (!required.length) return [];
  return withFreshToken(access, installationId, async (client) => {
    const where = { ...splitRepository(repository), ref: sha, per_page: 100, request: { signal: AbortSignal.timeout(READ_TIMEOUT_MS) } };
    const [{ data: combined }, { data: checks }] = await Promise.all([
      client.request('GET /repos/{owner}/{repo}/commits/{ref}/status', where),
      client.request('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', where),
    ]);
    const states = new Map<string, string>();
    for (const status of combined.statuses) states.set(status.context, status.state);
    for (const run of checks.check_runs) {
      const passed = run.status === 'completed' && ['success', 'neutral', 'skipped'].includes(run.conclusion ?? '');
      states.set(run.name, passed ? 'success' : (run.conclusion ?? run.status));
    }
    return required.map((context) => ({ context, state: states.get(context) ?? 'missing' })).filter((c) => c.state !== 'success');
  });
}
