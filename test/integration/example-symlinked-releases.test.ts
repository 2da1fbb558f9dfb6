// examples/symlinked-releases as a team would run it: its deploy.yml (parsed by the bot's own parser) and
// its host scripts, on real sshd hosts, against a real git repository with real SHAs. Deploy unpacks a
// release and switches `current`; the same SHA again is skipped by `revision`; a release whose healthcheck
// fails is rolled back to the previous one by `rollback`; a /rollback-style deploy of an older SHA only
// switches the link back to its release.
//
// Only `bin/restart` is replaced: it restarts a systemd unit, which a test machine does not have. Its
// stand-in records which release each restart served.
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SshdFleet } from '../support/sshd-fleet.ts';
import { fleetDeployer, recordEvents, sshJob } from './ssh-test-job.ts';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/symlinked-releases');
const run = promisify(execFile);
const git = async (cwd: string, ...args: string[]) =>
  (await run('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], { cwd })).stdout.trim();

let fleet: SshdFleet;
let upstream: string;
const sha: Record<'v1' | 'v2' | 'broken', string> = { v1: '', v2: '', broken: '' };

/** The example's staging environment, its /srv/myapp moved into each host's own folder. */
function stagingEnvironment(): Record<string, unknown> {
  const text = readFileSync(join(EXAMPLE, 'deploy.yml'), 'utf8').replaceAll('/srv/myapp', '$HOST_DIR/srv/myapp');
  const staging = (parse(text) as { environments: { staging: Record<string, unknown> } }).environments.staging;
  return { ...staging, hosts: fleet.hosts.map((h) => h.spec) };
}

const appDir = (index: number) => join(fleet.hosts[index]!.dir, 'srv/myapp');
const current = (index: number) => readlinkSync(join(appDir(index), 'current'));
const restarts = (index: number) =>
  readFileSync(join(appDir(index), 'shared/log/restarts'), 'utf8')
    .trim()
    .split('\n');

function deploy(to: keyof typeof sha, previous: keyof typeof sha | null) {
  const events = recordEvents();
  const job = sshJob(fleet, stagingEnvironment(), { sha: sha[to], previousSha: previous && sha[previous] });
  return { events, result: fleetDeployer(fleet).deploy(job, events) };
}

beforeAll(async () => {
  fleet = await SshdFleet.start(2);
  // The application's repository: two good releases and one whose own smoke test fails.
  upstream = mkdtempSync(join(tmpdir(), 'shipguard-example-app-'));
  await git(upstream, 'init', '--quiet', '--initial-branch=main');
  const commit = async (version: string, healthy: boolean) => {
    mkdirSync(join(upstream, 'bin'), { recursive: true });
    writeFileSync(join(upstream, 'VERSION'), `${version}\n`);
    writeFileSync(
      join(upstream, 'bin/healthcheck'),
      healthy ? '#!/bin/sh\necho healthy\n' : '#!/bin/sh\necho "smoke test failed" >&2\nexit 1\n',
    );
    chmodSync(join(upstream, 'bin/healthcheck'), 0o755);
    await git(upstream, 'add', '.');
    await git(upstream, 'commit', '--quiet', '-m', version);
    return git(upstream, 'rev-parse', 'HEAD');
  };
  sha.v1 = await commit('v1', true);
  sha.v2 = await commit('v2', true);
  sha.broken = await commit('v3', false);
  // Each host as its setup leaves it: the scripts, shared config, a mirror of the repository.
  for (const index of fleet.hosts.keys()) {
    const app = appDir(index);
    cpSync(join(EXAMPLE, 'bin'), join(app, 'bin'), { recursive: true });
    writeFileSync(
      join(app, 'bin/restart'),
      '#!/bin/sh\necho "$(readlink "$(dirname "$0")/../current")" >> "$(dirname "$0")/../shared/log/restarts"\n',
    );
    mkdirSync(join(app, 'shared/config'), { recursive: true });
    mkdirSync(join(app, 'shared/log'));
    mkdirSync(join(app, 'releases'));
    writeFileSync(join(app, 'shared/config/app.env'), 'PORT=8080\n');
    await git(app, 'clone', '--quiet', '--mirror', upstream, 'repo');
  }
  // The hosts log in as the fleet's user: what they work on is theirs, as on a real host.
  await run('chown', ['-R', fleet.user, upstream, ...fleet.hosts.map((h) => h.dir)]);
}, 120_000);

afterAll(async () => {
  await fleet?.close();
  if (upstream) rmSync(upstream, { recursive: true, force: true });
});

describe('examples/symlinked-releases on real sshd hosts', () => {
  it('deploys: unpacks the release, switches current, restarts on it', async () => {
    const { events, result } = deploy('v1', null);
    expect(await result).toMatchObject({ state: 'succeeded', description: 'deployed to 2/2 hosts' });
    for (const index of fleet.hosts.keys()) {
      expect(current(index)).toBe(`releases/${sha.v1}`);
      expect(readFileSync(join(appDir(index), 'current/VERSION'), 'utf8')).toBe('v1\n');
      expect(readlinkSync(join(appDir(index), 'current/config/app.env'))).toBe(join(appDir(index), 'shared/config/app.env'));
      expect(restarts(index)).toEqual([`releases/${sha.v1}`]);
      expect(events.output(fleet.hosts[index]!.spec)).toContain(`unpacked release ${sha.v1}`);
    }
  });

  it('skips every host when revision shows the SHA live already', async () => {
    const { events, result } = deploy('v1', null);
    expect(await result).toMatchObject({ state: 'succeeded', description: 'deployed to 2/2 hosts (2 already at this sha)' });
    for (const index of fleet.hosts.keys()) {
      expect(events.finished.get(fleet.hosts[index]!.spec)).toMatchObject({ outcome: 'skipped' });
      expect(restarts(index)).toEqual([`releases/${sha.v1}`]);
    }
    expect(events.phases.filter((p) => p.phase === 'deploy')).toEqual([]);
  });

  it("rolls a host whose healthcheck fails back to the previous release's link", async () => {
    expect(await deploy('v2', 'v1').result).toMatchObject({ state: 'succeeded' });
    const { events, result } = deploy('broken', 'v2');
    expect((await result).state).toBe('failed');
    for (const index of fleet.hosts.keys()) {
      const host = fleet.hosts[index]!.spec;
      expect(events.finished.get(host)?.message).toBe('healthcheck exited 1; rolled back');
      expect(events.output(host)).toContain('smoke test failed');
      expect(current(index)).toBe(`releases/${sha.v2}`);
      // Restarted on the broken release, then on the one rolled back to.
      expect(restarts(index).slice(-2)).toEqual([`releases/${sha.broken}`, `releases/${sha.v2}`]);
    }
  });

  it('a /rollback to an older SHA switches the link back to its release, unpacking nothing', async () => {
    const { events, result } = deploy('v1', 'v2');
    expect(await result).toMatchObject({ state: 'succeeded', description: 'deployed to 2/2 hosts' });
    for (const index of fleet.hosts.keys()) {
      expect(current(index)).toBe(`releases/${sha.v1}`);
      expect(events.output(fleet.hosts[index]!.spec)).not.toContain('unpacked release');
      expect(restarts(index).at(-1)).toBe(`releases/${sha.v1}`);
    }
  });
});
