// Which SHA runs where, from the bot's records: the newest deployment that touched a host decides.
import { describe, expect, it } from 'vitest';
import { hostVersions, inventoryText, type DeploymentHosts } from '../../bot/engine/host-inventory.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

describe('host inventory', () => {
  const history: DeploymentHosts[] = [
    // newest: C failed on web-3 (max_failures 0), web-4 never started, web-5 could not be reached
    {
      id: 3,
      sha: C,
      previousSha: B,
      hosts: [
        { host: 'web-1', state: 'succeeded', message: 'deployed' },
        { host: 'web-2', state: 'skipped', message: `already at ${C.slice(0, 7)}` },
        { host: 'web-3', state: 'failed', message: 'deploy exited 1' },
        { host: 'web-4', state: 'pending', message: '' },
        { host: 'web-5', state: 'failed', message: 'not deployed: connect ECONNREFUSED' },
      ],
    },
    { id: 2, sha: B, previousSha: A, hosts: [{ host: 'web-4', state: 'rolled_back', message: 'rolled back to aaaaaaa' }] },
    { id: 1, sha: A, previousSha: null, hosts: [{ host: 'web-5', state: 'succeeded', message: 'deployed' }] },
  ];

  it('takes each host from the newest deployment that touched it; a rolled back host runs the SHA before', () => {
    expect(hostVersions(['web-1', 'web-2', 'web-3', 'web-4', 'web-5', 'web-6'], history)).toEqual([
      { host: 'web-1', sha: C, touchedBy: 3 },
      { host: 'web-2', sha: C, touchedBy: 3 },
      { host: 'web-3', sha: null, touchedBy: 3 },
      { host: 'web-4', sha: A, touchedBy: 2 },
      { host: 'web-5', sha: A, touchedBy: 1 },
      { host: 'web-6', sha: null, touchedBy: null },
    ]);
  });

  it('says mixed versions plainly, naming the hosts that differ', () => {
    const versions = hostVersions(['web-1', 'web-2', 'web-3', 'web-4', 'web-5', 'web-6'], history);
    expect(inventoryText(versions)).toBe(
      '2 hosts on ccccccc, 2 on aaaaaaa (web-4, web-5), 1 unknown after a failed deploy (web-3), 1 never deployed (web-6)',
    );
    expect(inventoryText(hostVersions(['web-1', 'web-2'], [history[0]!]))).toBe('2 hosts on ccccccc');
    expect(inventoryText(hostVersions(['web-1'], []))).toBe('1 never deployed');
  });
});
