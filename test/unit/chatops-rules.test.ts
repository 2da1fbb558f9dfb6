// The pure rules behind ChatOps: who may, which pull requests, which SHA a rollback takes, what a
// stored payload and a 409 say.
import { commentCommit } from '../../bot/chatops/comment-commit.ts';
import { outputTail, TAIL_BYTES } from '../../common/host-failures.ts';
import { describe, expect, it } from 'vitest';
import { isBot, pullRequestProblem } from '../../bot/chatops/authorise.ts';
import { reaches, roleFrom, type Role } from '../../bot/engine/roles.ts';
import { checksFrom, chatopsPayloadFrom } from '../../bot/chatops/create-deployment.ts';
import { liveDeploy, rollbackTarget } from '../../bot/chatops/history.ts';
import { environmentConfig, parseDeployConfig } from '../../bot/engine/deploy-config.ts';

describe('chatops: permissions', () => {
  const order: Role[] = ['none', 'read', 'triage', 'write', 'maintain', 'admin'];
  for (const [i, role] of order.entries()) {
    for (const needed of ['write', 'maintain', 'admin'] as const) {
      it(`${role} ${i >= order.indexOf(needed) ? 'reaches' : 'does not reach'} ${needed}`, () => {
        expect(reaches(role, needed)).toBe(i >= order.indexOf(needed));
      });
    }
  }

  it('takes role_name when GitHub gives a built-in role, else the legacy permission, else none', () => {
    expect(roleFrom('maintain', 'write')).toBe('maintain');
    expect(roleFrom('triage', 'read')).toBe('triage');
    expect(roleFrom('release-manager', 'write')).toBe('write'); // a custom role: its base, never more
    expect(roleFrom(null, 'admin')).toBe('admin');
    expect(roleFrom(undefined, 'bogus')).toBe('none');
    expect(roleFrom('toString', undefined)).toBe('none');
  });

  it('ignores bots, this app included, and comments without a user', () => {
    expect(isBot({ login: 'dependabot[bot]', type: 'Bot' }, null)).toBe(true);
    expect(isBot({ login: 'shipguard[bot]', type: 'User' }, null)).toBe(true);
    expect(isBot({ login: 'deploy-app', type: 'User' }, 'deploy-app')).toBe(true);
    expect(isBot(null, null)).toBe(true);
    expect(isBot({ login: 'alice', type: 'User' }, 'shipguard[bot]')).toBe(false);
  });

  it('acts only on open pull requests of the repository itself', () => {
    const pull = { open: true, fork: false, headSha: 'a'.repeat(40), headRef: 'feature' };
    expect(pullRequestProblem(pull)).toBeNull();
    expect(pullRequestProblem({ ...pull, open: false })).toMatch(/closed/);
    expect(pullRequestProblem({ ...pull, fork: true })).toMatch(/fork/);
  });
});

describe('chatops: rollback target', () => {
  const at = (minute: number) => new Date(Date.UTC(2026, 10, 27, 12, minute));
  const deploy = (id: number, sha: string, finished: number) => ({
    id,
    sha: sha.repeat(40),
    requestedBy: 'alice',
    receivedAt: at(finished - 1),
    finishedAt: at(finished),
  });

  it('is the newest successful deploy of another commit before the live one', () => {
    const history = [deploy(1, 'a', 1), deploy(2, 'b', 2), deploy(3, 'c', 3)];
    expect(rollbackTarget(history)).toEqual({ live: history[2], target: history[1] });
  });

  it('skips deploys of the live commit itself (a forced re-deploy is not a previous version)', () => {
    const history = [deploy(1, 'a', 1), deploy(2, 'b', 2), deploy(3, 'b', 3)];
    expect(rollbackTarget(history).target).toEqual(history[0]);
  });

  it('goes by the time deploys finished, whatever order they were received in', () => {
    const slow = { ...deploy(1, 'a', 5), receivedAt: at(0) };
    const quick = deploy(2, 'b', 3);
    expect(liveDeploy([quick, slow])).toEqual(slow);
    expect(rollbackTarget([quick, slow]).target).toEqual(quick);
  });

  it('has nothing to go back to with one commit or none', () => {
    expect(rollbackTarget([])).toEqual({ live: null, target: null });
    expect(rollbackTarget([deploy(1, 'a', 1), deploy(2, 'a', 2)]).target).toBeNull();
  });
});

describe('chatops: environments named like inherited properties', () => {
  it('are unknown unless deploy.yml defines them', () => {
    const config = parseDeployConfig('environments:\n  staging: { deployer: local, deploy: ./deploy }\n');
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(() => environmentConfig(config, name)).toThrow(`unknown environment ${name}`);
    }
  });
});

describe('chatops: payloads and answers from GitHub', () => {
  it('reads the chatops part of a stored payload, and nothing that is not one', () => {
    expect(chatopsPayloadFrom({ chatops: { issue_number: 3, comment_id: 10, reply_id: 11, command: 'rollback' } })).toEqual({
      issue_number: 3,
      comment_id: 10,
      reply_id: 11,
      command: 'rollback',
    });
    expect(chatopsPayloadFrom({ chatops: { issue_number: 3, comment_id: 10, reply_id: 11 } })?.command).toBe('deploy');
    expect(chatopsPayloadFrom({})).toBeNull();
    expect(chatopsPayloadFrom({ chatops: 'yes' })).toBeNull();
    expect(chatopsPayloadFrom({ chatops: { issue_number: 3, comment_id: '10', reply_id: 11 } })).toBeNull();
    expect(chatopsPayloadFrom({ chatops: { issue_number: 3, comment_id: 10, reply_id: -1 } })).toBeNull();
  });

  it("lists each required context and its state from GitHub's 409", () => {
    const body = {
      message: 'Conflict: Commit status checks failed for main.',
      errors: [
        {
          resource: 'Deployment',
          field: 'required_contexts',
          code: 'invalid',
          contexts: [
            { context: 'ci', state: 'failure' },
            { context: 'lint', state: 'pending' },
          ],
        },
      ],
    };
    expect(checksFrom(body)).toEqual([
      { context: 'ci', state: 'failure' },
      { context: 'lint', state: 'pending' },
    ]);
    expect(checksFrom({ message: 'Conflict' })).toEqual([]);
    expect(checksFrom(undefined)).toEqual([]);
  });
});

describe('the commit a comment asked for (comment-commit.ts)', () => {
  const commentAt = new Date('2026-12-01T10:00:00Z');
  const head = 'b'.repeat(40);
  const at = (iso: string) => new Date(iso);

  it('pins the head when nothing was pushed after the comment and the head commit is older', () => {
    const history = {
      headSha: head,
      headCommittedAt: at('2026-12-01T09:58:00Z'),
      pushes: [{ after: head, at: at('2026-12-01T09:59:00Z') }],
    };
    expect(commentCommit(commentAt, history)).toEqual({ kind: 'pinned', sha: head });
  });

  it('a push in the same second as the comment counts as before it (GitHub’s times have one-second resolution)', () => {
    const history = { headSha: head, headCommittedAt: commentAt, pushes: [{ after: head, at: commentAt }] };
    expect(commentCommit(commentAt, history)).toEqual({ kind: 'pinned', sha: head });
  });

  it('refuses a head pushed after the comment, even when the commit is dated before it (dates are the pusher’s word)', () => {
    const history = {
      headSha: head,
      headCommittedAt: at('2026-12-01T08:00:00Z'),
      pushes: [
        { after: 'c'.repeat(40), at: at('2026-12-01T09:00:00Z') },
        { after: head, at: at('2026-12-01T10:05:00Z') },
      ],
    };
    expect(commentCommit(commentAt, history)).toEqual({ kind: 'moved', sha: head, at: at('2026-12-01T10:05:00Z'), signal: 'push' });
  });

  it('without the activity, refuses a head commit dated after the comment', () => {
    const history = { headSha: head, headCommittedAt: at('2026-12-01T10:00:01Z'), pushes: null };
    expect(commentCommit(commentAt, history)).toEqual({ kind: 'moved', sha: head, at: at('2026-12-01T10:00:01Z'), signal: 'commit date' });
    expect(commentCommit(commentAt, { ...history, headCommittedAt: at('2026-12-01T09:00:00Z') })).toEqual({ kind: 'pinned', sha: head });
  });
});

describe('the tail of a failing host’s output (common/host-failures.ts)', () => {
  it('keeps the last 20 lines', () => {
    const output = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n') + '\n';
    expect(outputTail(output)).toBe(Array.from({ length: 20 }, (_, i) => `line ${i + 30}`).join('\n'));
  });

  it('keeps at most 4 KB, cutting whole lines first and never a character in half', () => {
    const lines = Array.from({ length: 10 }, () => 'é'.repeat(400)).join('\n'); // 800 bytes a line
    const tail = outputTail(lines);
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(TAIL_BYTES);
    expect(tail.split('\n')).toHaveLength(5);
    const one = outputTail('€'.repeat(5000));
    expect(Buffer.byteLength(one)).toBeLessThanOrEqual(TAIL_BYTES);
    expect(one).toMatch(/^€+$/);
  });
});
