// Which SHA runs on each host, as the bot's own records tell it: the newest deployment that touched a host
// decides (deployed or skipped: its SHA; rolled back by a fleet rollback: the SHA before it). A host whose
// last touch failed or ended unknown is not claimed to run anything. Pure: the history is given.
import type { HostState } from './outcomes.ts';

export interface DeploymentHosts {
  id: number;
  sha: string;
  previousSha: string | null;
  hosts: Array<{ host: string; state: HostState; message: string }>;
}

/** `sha`: what runs there; null with `touchedBy`: its last deploy failed or is unknown; null without: never deployed. */
export interface HostVersion {
  host: string;
  sha: string | null;
  touchedBy: number | null;
}

/** Each of `hosts` from `history`, newest deployment first. */
export function hostVersions(hosts: string[], history: DeploymentHosts[]): HostVersion[] {
  return hosts.map((host) => {
    for (const deployment of history) {
      const record = deployment.hosts.find((h) => h.host === host);
      // Untouched by this deployment (never started, or nothing ran): an older one decides.
      if (!record || record.state === 'pending' || (record.state === 'failed' && record.message.startsWith('not deployed'))) continue;
      if (record.state === 'succeeded' || record.state === 'skipped') return { host, sha: deployment.sha, touchedBy: deployment.id };
      if (record.state === 'rolled_back') return { host, sha: deployment.previousSha, touchedBy: deployment.id };
      return { host, sha: null, touchedBy: deployment.id };
    }
    return { host, sha: null, touchedBy: null };
  });
}

/**
 * `18 hosts on a1b2c3d, 2 on 9f8e7d6 (web-7, web-9)`: the most common SHA first, the hosts of every other
 * group named (at most 3 each), then those whose version is unknown and those never deployed.
 */
export function inventoryText(versions: HostVersion[]): string {
  const named = (hosts: HostVersion[]) =>
    ` (${hosts
      .slice(0, 3)
      .map((h) => h.host)
      .join(', ')}${hosts.length > 3 ? `, +${hosts.length - 3}` : ''})`;
  const bySha = Map.groupBy(
    versions.filter((v) => v.sha !== null),
    (v) => v.sha!,
  );
  const groups = [...bySha.entries()].sort((a, b) => b[1].length - a[1].length);
  const parts = groups.map(([sha, hosts], index) =>
    index === 0
      ? `${hosts.length} host${hosts.length === 1 ? '' : 's'} on ${sha.slice(0, 7)}`
      : `${hosts.length} on ${sha.slice(0, 7)}${named(hosts)}`,
  );
  const unknown = versions.filter((v) => v.sha === null && v.touchedBy !== null);
  if (unknown.length) parts.push(`${unknown.length} unknown after a failed deploy${named(unknown)}`);
  const never = versions.filter((v) => v.sha === null && v.touchedBy === null);
  if (never.length) parts.push(`${never.length} never deployed${groups.length || unknown.length ? named(never) : ''}`);
  return parts.join(', ');
}
