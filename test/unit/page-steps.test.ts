// What the log page says each host did (bot/web/host-steps.ts), from the words bot/deployers/rollout.ts
// ends hosts with, and how stderr lines are marked in the stored output and read back (bot/engine/host-output.ts).
import { describe, expect, it } from 'vitest';
import { markStderr, splitStderr } from '../../bot/engine/host-output.ts';
import { hostFailures } from '../../bot/engine/host-failures.ts';
import { hostSteps } from '../../bot/web/host-steps.ts';
import { liveDescription } from '../../bot/web/live-description.ts';

describe('the step column', () => {
  const ended = (state: string, phase: string | null, message: string) => hostSteps({ state, phase, message }, true);

  it('says what each host did after the end, from its last phase and end message', () => {
    expect(ended('succeeded', 'deploy', 'deployed')).toBe('deploy ✓');
    expect(ended('succeeded', 'healthcheck', 'deployed')).toBe('deploy ✓, healthcheck ✓');
    expect(ended('failed', 'rollback', 'healthcheck exited 1; rolled back')).toBe('deploy ✓, healthcheck ✗, rollback ✓');
    expect(ended('failed', 'rollback', 'deploy exited 3; rollback exited 2')).toBe('deploy ✗, rollback ✗');
    expect(ended('failed', 'deploy', 'deploy exited 3')).toBe('deploy ✗');
    expect(ended('failed', 'deploy', 'deploy exited 3; rollback not started: this bot may no longer act')).toBe(
      'deploy ✗, rollback not started',
    );
    expect(ended('unknown', 'deploy', 'deploy lost (connection closed); outcome unknown, not retried')).toBe('deploy ?');
    expect(ended('failed', 'connect', 'not deployed: connect ECONNREFUSED')).toBe('connect ✗');
    expect(ended('failed', 'revision', 'not deployed: revision check exited 1')).toBe('revision ✗');
    expect(ended('skipped', 'revision', 'already at abc1234')).toBe('revision: already live');
    expect(ended('rolled_back', 'rollback', 'rolled back to abc1234')).toBe('deploy ✓, rollback ✓');
    expect(ended('failed', 'rollback', 'not rolled back: rollback exited 1')).toBe('deploy ✓, rollback ✗');
    expect(ended('pending', null, '')).toBe('not started');
  });

  it('says which step runs while the deployment goes on', () => {
    expect(hostSteps({ state: 'pending', phase: null, message: '' }, false)).toBe('waiting');
    expect(hostSteps({ state: 'running', phase: 'deploy', message: '' }, false)).toBe('deploy …');
    expect(hostSteps({ state: 'running', phase: 'healthcheck', message: '' }, false)).toBe('deploy ✓, healthcheck …');
  });
});

describe('stderr in the stored output', () => {
  it('marks each stderr line at capture and reads back the text and which lines were stderr', () => {
    const stored = 'deploying\n' + markStderr('disk full\nretrying\n') + 'done\n';
    expect(splitStderr(stored)).toEqual({ text: 'deploying\ndisk full\nretrying\ndone\n', stderrLines: [1, 2] });
    expect(splitStderr('plain\n')).toEqual({ text: 'plain\n', stderrLines: [] });
  });

  it('leaves the marks out of the failure tails the Action and ChatOps show', () => {
    const [failure] = hostFailures([{ host: 'web-1', state: 'failed', message: 'deploy exited 1', output: markStderr('boom\n') }]);
    expect(failure!.tail).toBe('boom');
  });
});

describe('the summary', () => {
  it('counts the hosts while they run instead of the claim’s "starting"', () => {
    const hosts = [{ state: 'succeeded' }, { state: 'running' }, { state: 'pending' }];
    expect(liveDescription({ state: 'running', description: 'starting' }, hosts)).toBe('deploying: 1/3 hosts done, 1 running');
    expect(liveDescription({ state: 'running', description: 'starting' }, [{ state: 'pending' }])).toBe('starting');
    expect(liveDescription({ state: 'running', description: 'deploying 1/3 hosts' }, hosts)).toBe('deploying 1/3 hosts');
  });
});
