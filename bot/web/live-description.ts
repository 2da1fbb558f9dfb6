// What the pages say a deployment is doing. Its stored description stays the claim's `starting` until the
// first host ends; while hosts run, the pages count them instead, so they never say `starting` then.

export function liveDescription(deployment: { state: string; description: string }, hosts: ReadonlyArray<{ state: string }>): string {
  const started = hosts.filter((h) => h.state !== 'pending').length;
  if (deployment.state !== 'running' || deployment.description !== 'starting' || started === 0) return deployment.description;
  const running = hosts.filter((h) => h.state === 'running').length;
  return `deploying: ${started - running}/${hosts.length} hosts done, ${running} running`;
}
