import { describe, expect, it } from 'vitest';
import {
  age,
  cancelReply,
  checksReply,
  code,
  deployReply,
  helpReply,
  invalidCommandReply,
  statusReply,
  type DeployView,
} from '../../bot/chatops/replies.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const now = new Date('2026-11-27T15:00:00Z');

const view = (change: Partial<DeployView> = {}): DeployView => ({
  kind: 'deploy',
  environment: 'staging',
  sha: A,
  requestedBy: 'alice',
  forced: false,
  rollbackOf: null,
  deploymentId: 12,
  state: 'success',
  refused: false,
  description: 'deployed to 2/2 hosts',
  logUrl: 'https://bot.example/deployments/12?sig=x',
  hostsDone: 2,
  hostsTotal: 2,
  headMovedTo: null,
  failures: [],
  ...change,
});

describe('chatops replies: a deploy as it moves', () => {
  const titles: Array<[Partial<DeployView>, string]> = [
    [{ state: 'requested', deploymentId: null, description: '' }, '⏳ **Deploy requested**: `aaaaaaa` to **staging**'],
    [{ state: 'queued' }, '⏳ **Deploy queued**'],
    [{ state: 'in_progress' }, '🔄 **Deploy running**'],
    [{ state: 'success' }, '✅ **Deploy succeeded**'],
    [{ state: 'failure' }, '❌ **Deploy failed**'],
    [{ state: 'error' }, '⚠️ **Deploy ended in error**'],
    [{ state: 'inactive' }, '⏹️ **Deploy not run**'],
    [{ state: 'error', refused: true }, '⛔ **Deploy refused**'],
    [{ kind: 'noop' }, '✅ **Dry run (noop) succeeded**'],
    [{ kind: 'rollback', rollbackOf: B }, '✅ **Rollback succeeded**'],
  ];
  for (const [change, title] of titles) {
    it(`titles ${JSON.stringify(change)} as ${title}`, () => expect(deployReply(view(change)).startsWith(title)).toBe(true));
  }

  it('shows environment, full SHA, requester, deployment and log link, hosts, result', () => {
    const text = deployReply(view());
    expect(text).toContain('| environment | **staging** |');
    expect(text).toContain(`| commit | \`${A}\` (the pull request's head when the comment was made) |`);
    expect(text).toContain('| requested by | @alice |');
    expect(text).toContain('| deployment | #12 · [log](https://bot.example/deployments/12?sig=x) |');
    expect(text).toContain('| hosts | 2/2 done |');
    expect(text).toContain('| result | success: deployed to 2/2 hosts |');
  });

  it('names a rollback and the commit it replaces; marks a forced deploy', () => {
    expect(deployReply(view({ kind: 'rollback', rollbackOf: B, forced: true }))).toContain(
      `(previous successful deploy; live was \`bbbbbbb\`)`,
    );
    expect(deployReply(view({ kind: 'rollback', rollbackOf: B, forced: true }))).not.toContain('(forced)');
    expect(deployReply(view({ forced: true }))).toContain('@alice (forced)');
  });

  it('says so when the pull request head moved after the command', () => {
    expect(deployReply(view({ headMovedTo: B }))).toContain(
      'head moved to `bbbbbbb` after the command was read; `aaaaaaa` is what was deployed',
    );
    expect(deployReply(view())).not.toContain('head moved');
  });

  it('shows each failing host’s last output in a fence that output cannot close, and nothing from it as markup', () => {
    const tail = 'step 1\n~~~\n@alice <b>bold</b>\nexit 3';
    const text = deployReply(
      view({
        state: 'failure',
        description: 'failed on web-1 (deploy exited 3)',
        failures: [{ host: 'web-1', state: 'failed', message: 'deploy exited 3', tail }],
      }),
    );
    expect(text).toContain('<details open><summary>What the failing host printed last</summary>');
    expect(text).toContain(`\`web-1\` (failed): deploy exited 3\n\n~~~~text\n${tail}\n~~~~`);
    expect(text).not.toContain('What the failing host printed last</summary>\n\n~~~\n');
  });

  it('keeps a description with a pipe inside its table cell', () => {
    expect(deployReply(view({ state: 'failure', description: 'web-1: exit 1 | see log' }))).toContain(
      '| result | failure: web-1: exit 1 \\| see log |',
    );
  });
});

describe('chatops replies: text from people cannot format or mention', () => {
  it('code() keeps any text inside one code span', () => {
    expect(code('a `b` c')).toBe("`a 'b' c`");
    expect(code('line\nbreak @everyone')).toBe('`line break @everyone`');
    expect(code('')).toBe('` `');
  });

  it('a refusal shows the usage as code', () => {
    expect(invalidCommandReply('unknown command "/x"', ['/help'])).toBe('😕 **Not run**: unknown command "/x".\n\nValid:\n- `/help`');
  });

  it('lists each required check and its state', () => {
    const text = checksReply('production', A, [
      { context: 'ci', state: 'failure' },
      { context: 'lint', state: 'missing' },
    ]);
    expect(text).toContain('- `ci`: failure\n- `lint`: missing');
  });
});

describe('chatops replies: status, help, cancel', () => {
  it('ages read naturally', () => {
    expect(age(new Date(now.getTime() - 4 * 60_000), now)).toBe('4m ago');
    expect(age(new Date(now.getTime() - 125 * 60_000), now)).toBe('2h 5m ago');
    expect(age(new Date(now.getTime() - 72 * 3_600_000), now)).toBe('3d ago');
    expect(age(new Date(now.getTime() + 60_000), now)).toBe('0m ago');
  });

  it('/status: live SHA, who and when, the lock, what runs and waits', () => {
    const text = statusReply(
      [
        {
          environment: 'production',
          live: { sha: A, id: 7, requestedBy: 'alice', finishedAt: new Date('2026-11-27T14:30:00Z') },
          lock: { owner: 'bob', reason: 'freeze', lockedAt: new Date('2026-11-27T14:50:00Z') },
          active: [
            { id: 8, sha: B, state: 'running', requestedBy: 'carol', task: 'deploy', description: 'deploying 1/3 hosts' },
            { id: 9, sha: B, state: 'queued', requestedBy: 'dave', task: 'deploy:noop', description: 'queued' },
          ],
        },
        { environment: 'staging', live: null, lock: null, active: [] },
      ],
      now,
    );
    expect(text).toContain(
      '**production**\n- live: `aaaaaaa` (#7), deployed by @alice 2026-11-27 14:30 UTC (30m ago)\n- locked by @bob 10m ago: `freeze`',
    );
    expect(text).toContain('- running: #8 `bbbbbbb` by @carol (deploying 1/3 hosts)');
    expect(text).toContain('- queued: #9 `bbbbbbb` (deploy:noop) by @dave (queued)');
    expect(text).toContain('**staging**\n- live: nothing deployed by shipguard yet\n- not locked');
  });

  it('/help: every command, and the environments the caller may deploy to', () => {
    const text = helpReply(
      'alice',
      'write',
      [
        { environment: 'staging', permission: 'write', isDefault: true },
        { environment: 'production', permission: 'maintain', isDefault: false },
      ],
      (needed) => needed === 'write',
    );
    for (const command of ['/deploy', '/rollback', '/lock', '/unlock', '/cancel', '/status', '/help'])
      expect(text).toContain(`\`${command}`);
    expect(text).toContain('| staging (default) | write | ✅ yes |');
    expect(text).toContain('| production | maintain | ❌ no |');
  });

  it('/cancel: running ones stop after the hosts in progress, queued ones are cancelled', () => {
    const text = cancelReply('staging', [
      { id: 4, sha: A, state: 'running', requestedBy: 'alice' },
      { id: 5, sha: B, state: 'queued', requestedBy: 'bob' },
    ]);
    expect(text).toContain('#4 `aaaaaaa` by @alice: running; stops after the hosts in progress');
    expect(text).toContain('#5 `bbbbbbb` by @bob: queued; cancelled before it started');
    expect(cancelReply('staging', [])).toContain('Nothing to cancel');
  });
});
