// What one host did, step by step, for the log page's step column (`deploy ✓, healthcheck ✗, rollback ✓`):
// read from the host's last phase while it runs, and from its end message (bot/deployers/rollout.ts
// words them) once it ended, so the column still says what happened after the end.

/** `final`: the deployment ended (a host still pending then never started). */
export function hostSteps(host: { state: string; phase: string | null; message: string }, final: boolean): string {
  const { state, phase, message } = host;
  if (state === 'pending') return final ? 'not started' : 'waiting';
  if (state === 'running') {
    if (phase === 'healthcheck') return 'deploy ✓, healthcheck …';
    return `${phase ?? 'starting'} …`;
  }
  if (state === 'rolled_back') return message.includes('rollback not needed') ? 'deploy ✓, rollback not needed' : 'deploy ✓, rollback ✓';
  if (state === 'skipped') return message.startsWith('already at') ? 'revision: already live' : 'skipped';
  if (message.startsWith('not deployed: revision check')) return 'revision ✗';
  if (message.startsWith('not deployed:')) return 'connect ✗';
  if (message.startsWith('not rolled back:')) return 'deploy ✓, rollback ✗';
  const [first, ...rest] = message.split('; ');
  const failing = /^(deploy|healthcheck)\b/.exec(first ?? '')?.[1];
  if (state === 'succeeded') return phase === 'healthcheck' || failing === 'healthcheck' ? 'deploy ✓, healthcheck ✓' : 'deploy ✓';
  if (!failing) return phase ? `${phase} ${state === 'unknown' ? '?' : '✗'}` : '';
  const steps = failing === 'healthcheck' ? ['deploy ✓'] : [];
  steps.push(`${failing} ${state === 'unknown' || message.includes('outcome unknown') ? '?' : '✗'}`);
  const rollback = rest.find((part) => part.startsWith('rolled back') || part.startsWith('rollback'));
  if (rollback === 'rolled back') steps.push('rollback ✓');
  else if (rollback?.startsWith('rollback not started')) steps.push('rollback not started');
  else if (rollback) steps.push(rollback.includes('outcome unknown') ? 'rollback ?' : 'rollback ✗');
  return steps.join(', ');
}
