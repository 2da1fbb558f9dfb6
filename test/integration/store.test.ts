// The store's atomic claims and transitions, on both backends: embedded (SQLite) and the real
// PostgreSQL server. Races are real: concurrent calls on one store, and two stores on one database.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { admitDeployment } from '../../bot/worker/admit-received.ts';
import { parseDeployConfig } from '../../bot/engine/deploy-config.ts';
import { openStore } from '../../bot/store/open-store.ts';
import type { NewDeployment, Store } from '../../bot/store/store.ts';
import type { StatusToPublish } from '../../bot/engine/status-for.ts';
import { freshStore, STORE_KINDS, type TestStore } from '../support/databases.ts';

const SHA = 'b'.repeat(40);
const config = parseDeployConfig(
  'environments:\n  staging: { deployer: local, deploy: ./deploy, hosts: [h1, h2] }\n  production: { deployer: local, deploy: ./deploy, queue: latest }\n',
);
const staging = { ok: true as const, environment: config.environments.staging! };

function deployment(id: number, change: Partial<NewDeployment> = {}): NewDeployment {
  return {
    id,
    installationId: 1,
    repository: 'acme/app',
    environment: 'staging',
    sha: SHA,
    ref: 'main',
    task: 'deploy',
    forced: false,
    requestedBy: 'alice',
    payload: {},
    ...change,
  };
}

const noStatuses = () => [] as StatusToPublish[];
const status = (id: number): StatusToPublish => ({
  deploymentId: id,
  installationId: 1,
  repository: 'acme/app',
  kind: 'phase',
  state: 'in_progress',
  description: 'x',
  logUrl: null,
  environmentUrl: null,
});

async function receiveAndAdmit(store: Store, d: NewDeployment, env = staging) {
  await store.recordReceived(d);
  return admitDeployment(store, d.id, { config: env, endedOnGitHub: null }, noStatuses);
}

describe.each(STORE_KINDS)('store (%s)', (kind) => {
  let t: TestStore;
  afterEach(async () => {
    await t?.cleanup();
  });

  it('rule 1: the same deployment delivered 10 times at once is recorded once', async () => {
    t = await freshStore(kind);
    const results = await Promise.all(Array.from({ length: 10 }, () => t.store.recordReceived(deployment(1))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await t.store.deployments({})).toHaveLength(1);
    const guids = await Promise.all(Array.from({ length: 10 }, () => t.store.recordDelivery('guid-1', 'deployment')));
    expect(guids.filter(Boolean)).toHaveLength(1);
    expect(await t.store.hasDelivery('guid-1')).toBe(true);
    expect(await t.store.hasDelivery('guid-2')).toBe(false);
  });

  // Five admitters racing, as five replicas would: each admits its share one at a time, as a worker does
  // within a repository. (Fifty at once from one process would make each applied decision send the other
  // 49 back to decide again: optimistic admission costs a round per contender.)
  it('rule 1: 50 deployments of one key admitted by five replicas at once queue exactly one; 49 are refused as its duplicates', async () => {
    t = await freshStore(kind);
    const ids = Array.from({ length: 50 }, (_, i) => 100 + i);
    await Promise.all(ids.map((id) => t.store.recordReceived(deployment(id))));
    const shares = Array.from({ length: 5 }, (_, replica) => ids.filter((_, i) => i % 5 === replica));
    const admissions = (
      await Promise.all(
        shares.map(async (share) => {
          const decided = [];
          for (const id of share) decided.push(await admitDeployment(t.store, id, { config: staging, endedOnGitHub: null }, noStatuses));
          return decided;
        }),
      )
    ).flat();
    const queued = admissions.filter((a) => a?.kind === 'queue');
    expect(queued).toHaveLength(1);
    const winner = (await t.store.deployments({ states: ['queued'] }))[0]!;
    const refused = await t.store.deployments({ states: ['refused'] });
    expect(refused).toHaveLength(49);
    for (const r of refused) expect(r.description).toBe(`duplicate of #${winner.id} (queued)`);
  });

  // One process per embedded folder: this race needs a server.
  it.runIf(kind === 'postgres')('rule 2: two stores on one database never run two deployments of one environment at once', async () => {
    t = await freshStore(kind);
    const second = await openStore(t.options);
    try {
      for (let i = 0; i < 5; i++) await receiveAndAdmit(t.store, deployment(200 + i, { sha: String(i).repeat(40) }));
      const claims = await Promise.all([
        ...Array.from({ length: 5 }, () => t.store.claimNext('one', 30_000, (r) => status(r.id))),
        ...Array.from({ length: 5 }, () => second.claimNext('two', 30_000, (r) => status(r.id))),
      ]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await t.store.deployments({ states: ['running'] })).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('rule 2: fifo order within an environment; other environments run in parallel', async () => {
    t = await freshStore(kind);
    await receiveAndAdmit(t.store, deployment(1, { sha: '1'.repeat(40) }));
    await receiveAndAdmit(t.store, deployment(2, { sha: '2'.repeat(40) }));
    await receiveAndAdmit(t.store, deployment(3, { sha: '3'.repeat(40), environment: 'production' }), {
      ok: true,
      environment: config.environments.production!,
    });
    const first = await t.store.claimNext('me', 30_000, (r) => status(r.id));
    const second = await t.store.claimNext('me', 30_000, (r) => status(r.id));
    expect([first!.id, second!.id].sort()).toEqual([1, 3]);
    expect(await t.store.claimNext('me', 30_000, (r) => status(r.id))).toBeNull();
    await t.store.finish(
      { id: 1, epoch: first!.id === 1 ? first!.leaseEpoch : second!.leaseEpoch },
      { state: 'succeeded', description: 'ok', status: status(1) },
    );
    expect((await t.store.claimNext('me', 30_000, (r) => status(r.id)))!.id).toBe(2);
  });

  it('activity: running and waiting deployments per environment, with the oldest wait', async () => {
    t = await freshStore(kind);
    expect(await t.store.activity()).toEqual([]);
    for (const id of [1, 2, 3]) await receiveAndAdmit(t.store, deployment(id, { sha: String(id).repeat(40) }));
    await t.store.recordReceived(deployment(4, { environment: 'production' }));
    await t.store.claimNext('me', 30_000, (r) => status(r.id));
    const [staging, ...others] = await t.store.activity();
    expect(others).toEqual([]);
    expect(staging).toMatchObject({ repository: 'acme/app', environment: 'staging', running: 1, waiting: 2 });
    expect(staging!.oldestWaitingSeconds).toBeGreaterThanOrEqual(0);
  });

  it('environments: every environment of one repository, deployed to or only locked, by name', async () => {
    t = await freshStore(kind);
    expect(await t.store.environments('acme/app')).toEqual([]);
    await receiveAndAdmit(t.store, deployment(1));
    await t.store.recordReceived(deployment(2, { environment: 'production' }));
    await t.store.recordReceived(deployment(3, { repository: 'acme/other', environment: 'qa' }));
    await t.store.lock('acme/app', 'review-7', 'alice', 'demo');
    expect(await t.store.environments('acme/app')).toEqual(['production', 'review-7', 'staging']);
    expect(await t.store.environments('acme/other')).toEqual(['qa']);
  });

  it('rule 2: queue: latest supersedes older waiting deployments', async () => {
    t = await freshStore(kind);
    const production = { ok: true as const, environment: config.environments.production! };
    for (const id of [1, 2, 3])
      await receiveAndAdmit(t.store, deployment(id, { environment: 'production', sha: String(id).repeat(40) }), production);
    expect((await t.store.deployment(1))!.state).toBe('superseded');
    expect((await t.store.deployment(2))!.description).toBe('superseded by #3');
    expect((await t.store.deployment(3))!.state).toBe('queued');
  });

  // Lease timings are injected: a lease of -1 s has lapsed the moment it is granted, one of 30 s has not.
  it('rule 6: a lapsed lease is taken over by exactly one other owner under a new epoch; the old epoch can write nothing', async () => {
    t = await freshStore(kind);
    await receiveAndAdmit(t.store, deployment(1));
    const claimed = (await t.store.claimNext('dead-bot', 30_000, (r) => status(r.id)))!;
    expect(claimed.state).toBe('running');
    expect(await t.store.takeOverLapsed('other', 30_000, [])).toBeNull(); // not lapsed yet
    const old = { id: 1, epoch: claimed.leaseEpoch };
    expect(await t.store.recordHostIntent(old, 'h1', 'deploy', 60_000)).toBe(true);
    expect(await t.store.renewLease(old, -1000)).toBe(true); // lapsed now, nobody took it yet
    expect(await t.store.takeOverLapsed('other', 30_000, [1])).toBeNull(); // excluded: still run by the caller
    const takers = await Promise.all([t.store.takeOverLapsed('other', 30_000, []), t.store.takeOverLapsed('third', 30_000, [])]);
    expect(takers.filter(Boolean)).toHaveLength(1);
    const taker = takers.find(Boolean)!;
    expect(taker.leaseEpoch).toBeGreaterThan(claimed.leaseEpoch);
    // The old runner is fenced out of every write.
    expect(await t.store.renewLease(old, 30_000)).toBe(false);
    expect(await t.store.recordHostIntent(old, 'h2', 'deploy', 60_000)).toBe(false);
    expect(await t.store.recordHostEnd(old, 'h1', { outcome: 'succeeded', message: 'late', settled: true })).toBe(false);
    expect(await t.store.recordHostProgress(old, 'h1', { output: 'late' })).toBe(false);
    expect(await t.store.recordEvent(old, 'late')).toBe(false);
    expect(await t.store.recordStatus(old, status(1))).toBe(false);
    expect(await t.store.releaseLease(old)).toBe(false);
    expect(await t.store.finish(old, { state: 'succeeded', description: 'late', status: status(1) })).toBe(false);
    // What the taker sees: h1 in doubt (an intent, no end) until its hard limit has passed; h2 untouched.
    const hosts = await t.store.hosts(1);
    expect(hosts.map((h) => [h.host, h.state, h.output])).toEqual([
      ['h1', 'running', ''],
      ['h2', 'pending', ''],
    ]);
    expect(hosts[0]!.inDoubtForMs).toBeGreaterThan(30_000);
    expect(hosts[1]!.inDoubtForMs).toBe(0);
    const current = { id: 1, epoch: taker.leaseEpoch };
    expect(await t.store.finish(current, { state: 'error', description: 'outcome unknown', status: status(1) })).toBe(true);
    expect((await t.store.deployment(1))!.state).toBe('error');
    expect(await t.store.finish(current, { state: 'succeeded', description: 'twice', status: status(1) })).toBe(false);
  });

  it('rule 6: a renewal after a lapse succeeds when nobody took over; a released lease is taken over at once', async () => {
    t = await freshStore(kind);
    await receiveAndAdmit(t.store, deployment(1));
    const claimed = (await t.store.claimNext('me', -1000, (r) => status(r.id)))!;
    const lease = { id: 1, epoch: claimed.leaseEpoch };
    expect(await t.store.renewLease(lease, 30_000)).toBe(true);
    expect(await t.store.takeOverLapsed('other', 30_000, [])).toBeNull();
    expect(await t.store.releaseLease(lease)).toBe(true);
    expect((await t.store.takeOverLapsed('other', 30_000, []))?.id).toBe(1);
  });

  it('a host end observed and settled clears its doubt; an unsettled one keeps it', async () => {
    t = await freshStore(kind);
    await receiveAndAdmit(t.store, deployment(1));
    const lease = { id: 1, epoch: (await t.store.claimNext('me', 30_000, (r) => status(r.id)))!.leaseEpoch };
    for (const host of ['h1', 'h2']) expect(await t.store.recordHostIntent(lease, host, 'deploy', 60_000)).toBe(true);
    expect(await t.store.recordHostEnd(lease, 'h1', { outcome: 'unknown', message: 'killed', settled: true })).toBe(true);
    expect(await t.store.recordHostEnd(lease, 'h2', { outcome: 'unknown', message: 'lost', settled: false })).toBe(true);
    const [h1, h2] = await t.store.hosts(1);
    expect(h1!.inDoubtForMs).toBe(0);
    expect(h2!.inDoubtForMs).toBeGreaterThan(30_000);
    expect((await t.store.events(1)).map((e) => e.message)).toEqual(
      expect.arrayContaining(['h1: deploy starting', 'h1: unknown (killed)']),
    );
  });

  it('hosts, events and the lock survive reopening the store (a restarted bot)', async () => {
    t = await freshStore(kind);
    await receiveAndAdmit(t.store, deployment(1));
    const lease = { id: 1, epoch: (await t.store.claimNext('me', 30_000, (r) => status(r.id)))!.leaseEpoch };
    await t.store.recordHostIntent(lease, 'h1', 'deploy', 60_000);
    await t.store.recordHostProgress(lease, 'h1', { output: 'hello\n' });
    await t.store.recordHostEnd(lease, 'h1', { outcome: 'succeeded', message: 'deployed', settled: true });
    await t.store.lock('acme/app', 'staging', 'bob', 'db migration');
    await t.store.close();
    t.store = await openStore(t.options);
    const hosts = await t.store.hosts(1);
    expect(hosts.map((h) => [h.host, h.state, h.output])).toEqual([
      ['h1', 'succeeded', 'hello\n'],
      ['h2', 'pending', ''],
    ]);
    expect((await t.store.events(1)).map((e) => e.message)).toContain('queued');
    expect(await t.store.environmentLock('acme/app', 'staging')).toMatchObject({ owner: 'bob', reason: 'db migration' });
    expect(await t.store.lock('acme/app', 'staging', 'carol', 'mine')).toMatchObject({ owner: 'bob' });
    expect(await t.store.unlock('acme/app', 'staging', 'carol')).toBeNull(); // not carol's to lift
    expect(await t.store.environmentLock('acme/app', 'staging')).toMatchObject({ owner: 'bob' });
    expect(await t.store.unlock('acme/app', 'staging', 'bob')).toMatchObject({ owner: 'bob' });
    expect(await t.store.environmentLock('acme/app', 'staging')).toBeNull();
  });

  it('the status outbox hands one installation to one sender at a time, in order', async () => {
    t = await freshStore(kind);
    for (let i = 1; i <= 3; i++) await t.store.enqueueStatus(status(i));
    await t.store.enqueueStatus({ ...status(9), installationId: 2 });
    const [a, b] = await Promise.all([t.store.claimStatuses('one', 60_000, 100, []), t.store.claimStatuses('two', 60_000, 100, [])]);
    const byOwner = [a, b].filter((x) => x.length);
    expect(byOwner).toHaveLength(2);
    expect(new Set(byOwner.map((x) => x[0]!.installationId))).toEqual(new Set([1, 2]));
    const one = byOwner.find((x) => x[0]!.installationId === 1)!;
    expect(one.map((x) => x.deploymentId)).toEqual([1, 2, 3]);
    expect(await t.store.claimStatuses('three', 60_000, 100, [])).toEqual([]);
    expect(
      await t.store.holdStatuses(
        'three',
        one.map((x) => x.seq),
        60_000,
      ),
    ).toBe(false); // not its claim
    expect(
      await t.store.holdStatuses(
        one[0]!.installationId === a[0]?.installationId ? 'one' : 'two',
        one.map((x) => x.seq),
        60_000,
      ),
    ).toBe(true);
    await t.store.markStatusesDone(one.map((x) => x.seq));
    await t.store.markStatusFailed(byOwner.find((x) => x[0]!.installationId === 2)![0]!.seq, 'boom', 60_000);
    expect(await t.store.claimStatuses('three', 60_000, 100, [])).toEqual([]); // backing off
  });
});

describe('store (embedded): its folder', () => {
  it('an embedded store of an earlier version (PGlite, pgdata/) is refused with what to do, and left as it was', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipguard-pglite-era-'));
    try {
      mkdirSync(join(dataDir, 'pgdata'));
      writeFileSync(join(dataDir, 'pgdata', 'PG_VERSION'), '17\n');
      await expect(openStore({ dataDir })).rejects.toThrow(
        /holds an embedded store of an earlier shipguard \(PGlite, in pgdata\/\).*move .*pgdata away/,
      );
      expect(readdirSync(dataDir)).toEqual(['pgdata']);
      // Once it is moved away, the folder opens as a new, empty store.
      renameSync(join(dataDir, 'pgdata'), join(dataDir, 'pgdata.old'));
      const store = await openStore({ dataDir });
      expect(await store.deployments({})).toEqual([]);
      await store.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a second process on the same folder is refused while the first holds it', async () => {
    const t = await freshStore('embedded');
    try {
      const other = spawnSync(
        process.execPath,
        [
          '-e',
          `import('${pathToFileURL(join(import.meta.dirname, '../../bot/store/open-store.ts')).href}').then((m) => m.openStore({ dataDir: process.argv[1] }))`,
          t.options.dataDir,
        ],
        { encoding: 'utf8' },
      );
      expect(other.status).not.toBe(0);
      expect(other.stderr).toMatch(new RegExp(`the embedded store is in use by process ${process.pid}; use DATABASE_URL`));
    } finally {
      await t.cleanup();
    }
  });
});
