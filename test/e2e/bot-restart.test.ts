// End to end, rule 6 on real sshd hosts: the Action requests a deploy, the bot process running it is
// killed with SIGKILL while the last host deploys, and a new bot process on the same embedded store
// takes over once the lease lapses (SHIPGUARD_LEASE, 10 s in tests). Hosts done stay done, the host in flight is resolved by
// asking it (`revision`), nothing runs twice, and the Action, which never stopped following, sees success.
import { afterEach, expect, it } from 'vitest';
import { startBotProcess, type BotProcess } from '../support/bot-harness.ts';
import { startDemoWorld, type DemoWorld } from '../support/demo-world.ts';
import { freePort } from '../support/ports.ts';

let demo: DemoWorld | undefined;
const bots: BotProcess[] = [];

afterEach(async () => {
  for (const bot of bots.splice(0)) await bot.kill();
  await demo?.close();
  demo = undefined;
});

it('a bot killed mid-deploy is replaced: the new one takes over, finishes the rollout, and no host runs twice', async () => {
  demo = await startDemoWorld({ ssh: 'sshd', deploySeconds: 3 });
  const world = demo;
  const port = await freePort();
  bots.push(await startBotProcess(world.world, { port, cwd: world.world.dir }));
  world.github.setWebhookUrl(`http://127.0.0.1:${port}/api/github/webhooks`);

  const action = world.runAction({ environment: 'staging', runId: 1, inputs: { 'wait-timeout': '3m' } });
  // Hosts 0 and 1 go first (concurrency 2); kill the bot once they are done and host 2 is deploying.
  const live = (index: number) => world.hostFile(index, 'staging.sha') === `${world.featureSha}\n`;
  await world.github.waitFor(() => live(0) && live(1) && world.deployCount(2, 'staging', world.featureSha) === 1, 120_000);
  expect(live(2)).toBe(false);
  await bots.pop()!.kill('SIGKILL');

  bots.push(await startBotProcess(world.world, { port, cwd: world.world.dir }));
  const step = await action;

  expect(step.failed).toBe(false);
  expect(step.outputs.state).toBe('success');
  const id = Number(step.outputs['deployment-id']);
  expect(world.finalStatus(id)).toMatchObject({ state: 'success', description: 'deployed to 3/3 hosts' });
  expect(world.statuses(id).map((s) => s.description)).toContain('resumed by another bot after its runner stopped');
  for (const index of [0, 1, 2]) {
    expect(world.hostFile(index, 'staging.sha'), `host ${index}`).toBe(`${world.featureSha}\n`);
    expect(world.deployCount(index, 'staging', world.featureSha), `host ${index}`).toBe(1);
  }
  expect(world.github.problems).toEqual([]);
}, 400_000);
