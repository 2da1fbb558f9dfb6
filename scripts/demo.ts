// `npm run demo`: shipguard end to end on this machine, with no GitHub App, no credentials and no network
// beyond loopback. It starts a GitHub API stand-in, the bot (embedded store), three SSH hosts, then
// runs the Action's own code to deploy a commit to staging, runs it again (a duplicate), asks for
// production with a `/deploy` comment, asks `/status`, and prints what GitHub recorded.
//
//   npm run demo               runs it and exits (0 when everything happened as expected)
//   npm run demo -- --keep     stays up afterwards, so the log page can be opened, until Ctrl-C
//   npm run demo -- --ssh2     ssh2 servers instead of OpenSSH's sshd for the hosts
import { METRICS_TOKEN } from '../test/support/bot-harness.ts';
import { REPOSITORY, startDemoWorld, type DemoWorld } from '../test/support/demo-world.ts';
import type { Comment, DeploymentStatus } from '../test/support/github-standin.ts';
import { bold, dim, hostTable, reply, say, step, timeline } from './demo/report.ts';

const ENVIRONMENTS = ['staging', 'production'];
const CHATOPS_WAIT_MS = 15_000;
const DEPLOY_WAIT_MS = 45_000;

const args = new Set(process.argv.slice(2));
for (const arg of args) {
  if (arg !== '--keep' && arg !== '--ssh2') {
    console.error(`npm run demo: unknown option ${arg} (options: --keep, --ssh2)`);
    process.exit(2);
  }
}

const githubLine = (line: string) => say(`  ${dim('github │')} ${line}`);

/** Prints each status of the deployment as GitHub records it; resolves with the terminal one (undefined past the wait). */
async function followStatuses(world: DemoWorld, id: number, timeoutMs: number): Promise<DeploymentStatus | undefined> {
  let printed = 0;
  const printNew = () => {
    for (const status of world.statuses(id).slice(printed)) githubLine(`#${id} ${status.state}: ${status.description}`);
    printed = world.statuses(id).length;
    return world.finalStatus(id);
  };
  return world.github.waitFor(printNew, timeoutMs).catch(() => undefined);
}

/** What did not happen as expected: the demo says so and exits 1. */
const problems: string[] = [];
const expect = (ok: boolean, problem: string) => {
  if (!ok) problems.push(problem);
  return ok;
};

let demo: DemoWorld | undefined;
/** Stops the bot, the stand-in and the hosts (sshd processes, temporary folders), then exits. */
async function stop(code: number): Promise<never> {
  await demo?.close().catch((error: Error) => say(`could not stop everything cleanly: ${error.message}`));
  process.exit(code);
}
let keeping = false;
// Ctrl-C stops everything: the sshd processes end and the temporary folders go, even mid-run.
process.once('SIGINT', () => {
  say(keeping ? '\nstopping' : '\ninterrupted: stopping');
  void stop(keeping ? exitCode() : 130);
});
const exitCode = () => (problems.length ? 1 : 0);

say(bold('shipguard demo') + dim(': the Action, GitHub (a local stand-in), the bot and three SSH hosts, on this machine'));
const started = performance.now();
try {
  demo = await step(
    'starting the GitHub stand-in and three SSH hosts',
    () => startDemoWorld({ hostCount: 3, ssh: args.has('--ssh2') ? 'ssh2' : 'auto', logLevel: 'warn' }),
    (d) =>
      `${d.sshKind === 'sshd' ? 'OpenSSH sshd' : `ssh2 servers${d.sshdProblem ? ` (not sshd: ${d.sshdProblem})` : ''}`} on ${d.hosts.hosts.map((h) => h.spec.split('@')[1]).join(', ')}; GitHub API at ${d.github.apiUrl}`,
  );
  const world = demo;
  const bot = await step(
    'starting the bot (embedded store)',
    () => world.startBot(),
    (b) => `listening on ${b.url}`,
  );
  say(
    dim(
      `  acme/app: .github/deploy.yml on main (staging: 3 hosts, 2 at a time; production: requires staging); pull request #${world.pullRequest} at ${world.featureSha.slice(0, 7)}`,
    ),
  );

  say();
  const actionLine = (line: string) => say(`  ${dim('action │')} ${line}`);
  const first = await step(
    `1. the Action deploys ${world.featureSha.slice(0, 7)} to staging`,
    () => world.runAction({ environment: 'staging', runId: 1, onLine: actionLine }),
    (r) => `state ${r.outputs.state || '(none)'}`,
  );
  const firstId = Number(first.outputs['deployment-id']);
  expect(first.outputs.state === 'success', `the first staging deploy ended ${first.outputs.state || 'without a state'}, not success`);

  const second = await step(
    '2. the same workflow step runs again (a new run, the same commit)',
    () => world.runAction({ environment: 'staging', runId: 2, onLine: actionLine }),
    (r) =>
      r.outputs['duplicate-of']
        ? `refused as a duplicate of #${r.outputs['duplicate-of']}, followed to its outcome: ${r.outputs.state}`
        : `state ${r.outputs.state || '(none)'}`,
  );
  expect(second.outputs['duplicate-of'] === String(firstId), `the second run was not refused as a duplicate of #${firstId}`);
  expect(
    second.outputs.state === first.outputs.state,
    `the second run reported ${second.outputs.state}, not the original's ${first.outputs.state}`,
  );

  say();
  const deployReply = await step(
    `3. a comment on pull request #${world.pullRequest}: /deploy production`,
    async () => {
      const command = await world.comment('/deploy production');
      const production = await world.github
        .waitFor(() => world.github.deployments(REPOSITORY).find((d) => d.environment === 'production'), CHATOPS_WAIT_MS)
        .catch(() => undefined);
      if (
        !expect(
          production !== undefined,
          `the bot did not answer /deploy production within ${CHATOPS_WAIT_MS / 1000} s (no production deployment; is ChatOps wired in bot/bot.ts?)`,
        )
      ) {
        return world.waitForReply(command, 1000);
      }
      githubLine(
        `reactions on the comment: ${world.github.reactions(command).join(', ') || 'none'}; deployment #${production!.id} created by ${production!.creator.login}`,
      );
      const final = await followStatuses(world, production!.id, DEPLOY_WAIT_MS);
      expect(
        final?.state === 'success',
        `the production deployment #${production!.id} ended ${final?.state ?? `with no final status within ${DEPLOY_WAIT_MS / 1000} s`}`,
      );
      // The reply is edited as the deploy moves: wait for it to say how it ended.
      return world.waitForReply(command, 10_000, (c) => final === undefined || c.body.includes(final.description));
    },
    (c: Comment | null) => (c ? 'the bot replied' : 'no reply'),
  );
  expect(deployReply !== null, 'the bot did not reply to /deploy production');

  const statusReply = await step(
    '4. a comment: /status',
    async () => world.waitForReply(await world.comment('/status'), CHATOPS_WAIT_MS),
    (c) => (c ? 'the bot replied' : 'no reply'),
  );
  expect(statusReply !== null, `the bot did not reply to /status within ${CHATOPS_WAIT_MS / 1000} s`);

  say();
  say(bold('Deployment statuses, as GitHub recorded them'));
  const labels = new Map<number, string>([
    [firstId, 'the Action, run 1'],
    [Number(second.outputs['deployment-id']), 'the Action, run 2'],
  ]);
  for (const deployment of world.github.deployments(REPOSITORY)) {
    for (const line of timeline(deployment, world.statuses(deployment.id), labels.get(deployment.id) ?? 'the /deploy comment'))
      say(`  ${line}`);
  }

  say();
  say(bold('Hosts') + dim(' (SHA live per environment, from the files the deploys wrote)'));
  const rows = world.hosts.hosts.map((host, index) => ({
    spec: host.spec,
    live: Object.fromEntries(ENVIRONMENTS.map((e) => [e, world.hostFile(index, `${e}.sha`)])),
    deploys: (world.hostFile(index, 'deploys.log') ?? '').split('\n').filter(Boolean),
  }));
  for (const line of hostTable(rows, ENVIRONMENTS)) say(line);
  const ranProduction = world.github.deployments(REPOSITORY).some((d) => d.environment === 'production');
  for (const [index, row] of rows.entries()) {
    for (const environment of ranProduction ? ENVIRONMENTS : ['staging']) {
      const runs = world.deployCount(index, environment, world.featureSha);
      expect(
        row.live[environment]?.trim() === world.featureSha,
        `host ${row.spec} does not run ${world.featureSha.slice(0, 7)} on ${environment}`,
      );
      expect(runs === 1, `host ${row.spec} ran the ${environment} deploy ${runs} times, not once`);
    }
  }

  say();
  say(bold('Replies on the pull request'));
  for (const line of [...reply('/deploy production', deployReply), ...reply('/status', statusReply)]) say(line);

  say();
  const logUrl = world.finalStatus(firstId)?.logUrl;
  say(`${bold('Log page')} of the staging deployment: ${logUrl ?? '(none)'}`);
  say(dim(`  also ${bot.url}/healthz and ${bot.url}/metrics (with Authorization: Bearer ${METRICS_TOKEN})`));
  expect(
    world.github.problems.length === 0,
    `the GitHub stand-in saw requests or answers the real API would not accept:\n    ${world.github.problems.join('\n    ')}`,
  );
  say(dim(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`));
} catch (error) {
  problems.push(`the demo stopped: ${(error as Error).stack ?? error}`);
}

if (problems.length) {
  say();
  say(bold(`${problems.length} thing${problems.length > 1 ? 's' : ''} did not happen as expected:`));
  for (const problem of problems) say(`  - ${problem}`);
}
if (args.has('--keep') && demo) {
  say();
  say('Everything stays up: open the log page above. Ctrl-C to stop.');
  keeping = true;
} else {
  await stop(exitCode());
}
