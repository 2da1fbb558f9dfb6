// The whole system on one machine, as `npm run demo` and the end-to-end tests both run it: the GitHub
// stand-in with the repository `acme/app` and its `.github/deploy.yml`, a pull request, SSH hosts on
// loopback (real sshd when installed, else ssh2 servers), the bot (in this process, or as a child
// process through test/support/bot-harness.ts), and the Action's own code requesting deploys.
//
//   const demo = await startDemoWorld({ hostCount: 3 });
//   await demo.startBot();
//   const step = await demo.runAction({ environment: 'staging', runId: 1 });
//   await demo.waitForFinal(Number(step.outputs['deployment-id']));
//   demo.deployCount(0, 'staging', demo.featureSha)   // how many times host 0 ran that deploy
//   await demo.close();
//
// Each host's deploy appends `<environment> <sha> <deployment id>` to $HOST_DIR/deploys.log, fails at
// once when $HOST_DIR/fail-deploy exists, sleeps a little (and on, while $HOST_DIR/hold exists: a test
// keeps a host busy until something happened elsewhere), then writes the SHA to
// $HOST_DIR/<environment>.sha, which the `revision` command reads back.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Bot } from '../../bot/bot.ts';
import { isTerminalStatus } from '../../common/deploy-intent.ts';
import { runActionStep, type ActionStepResult } from './action-step.ts';
import { startBotIn, USER_TOKEN, type World, startWorld } from './bot-harness.ts';
import type { Comment, DeploymentStatus, GitHubStandin, RepoHandle } from './github-standin.ts';
import { Ssh2Fleet } from './ssh2-host.ts';
import { SshdFleet } from './sshd-fleet.ts';

export const REPOSITORY = 'acme/app';
/** Who pushes, runs the workflow and comments: may deploy to production (`permission: maintain`). */
export const DEVELOPER = 'octocat';
const SSHD = '/usr/sbin/sshd';

export type SshKind = 'sshd' | 'ssh2';

export interface DemoHosts {
  hosts: Array<{ index: number; spec: string; dir: string }>;
  knownHosts: string;
  privateKey: string;
  close(): Promise<void>;
}

export interface DemoOptions {
  hostCount?: number;
  /** `auto`: real sshd when /usr/sbin/sshd exists, else ssh2 servers. */
  ssh?: SshKind | 'auto';
  /** How long each host's deploy command sleeps (seconds). */
  deploySeconds?: number;
  /** The bot's LOG_LEVEL. */
  logLevel?: string;
}

export interface DemoWorld {
  world: World;
  github: GitHubStandin;
  repo: RepoHandle;
  hosts: DemoHosts;
  sshKind: SshKind;
  /** Why real sshd was not used when `ssh: 'auto'` asked for it. */
  sshdProblem: string | undefined;
  /** The open pull request, and its head commit (what the demo deploys). */
  pullRequest: number;
  featureSha: string;
  /** The bot started by startBot(), if any. */
  bot: Bot | null;
  startBot(): Promise<Bot>;
  /** The Action's run() as a workflow step on `sha` (default: the pull request's head). */
  runAction(options: {
    environment: string;
    runId: number;
    sha?: string;
    inputs?: Record<string, string>;
    onLine?: (line: string) => void;
  }): Promise<ActionStepResult>;
  /** Posts a comment on the pull request as the developer; resolves once the bot answered the webhook. */
  comment(body: string): Promise<number>;
  /** The bot's comments on the pull request, oldest first. */
  botComments(): Comment[];
  /** The bot's reply to a command comment: its first comment after it, once it exists (else null after the wait). */
  waitForReply(commandId: number, timeoutMs: number, done?: (reply: Comment) => boolean): Promise<Comment | null>;
  statuses(deploymentId: number): DeploymentStatus[];
  /** The deployment's first terminal status as GitHub recorded it. */
  finalStatus(deploymentId: number): DeploymentStatus | undefined;
  waitForFinal(deploymentId: number, timeoutMs?: number): Promise<DeploymentStatus>;
  /** A file in host `index`'s folder, or null. */
  hostFile(index: number, name: string): string | null;
  /** How many times host `index` ran the deploy command for this environment and SHA. */
  deployCount(index: number, environment: string, sha: string): number;
  close(): Promise<void>;
}

/** What a host's deploy runs: records itself, fails on request, takes a moment, then makes the SHA live. */
export function deployCommand(seconds: number): string {
  return [
    'echo "deploying $DEPLOY_SHA to $DEPLOY_ENVIRONMENT on $DEPLOY_HOST"',
    'echo "$DEPLOY_ENVIRONMENT $DEPLOY_SHA $DEPLOY_ID" >> "$HOST_DIR/deploys.log"',
    'if [ -e "$HOST_DIR/fail-deploy" ]; then echo "fail-deploy is set on this host" >&2; cat "$HOST_DIR/fail-deploy" >&2; exit 1; fi',
    `sleep ${seconds}`,
    // Held by a test; bounded, so that a hold never let go ends in a failed assertion, not a hang.
    'i=0; while [ -e "$HOST_DIR/hold" ] && [ $i -lt 150 ]; do i=$((i + 1)); sleep 0.1; done',
    'printf "%s\\n" "$DEPLOY_SHA" > "$HOST_DIR/$DEPLOY_ENVIRONMENT.sha"',
    'echo "$DEPLOY_ENVIRONMENT now runs $DEPLOY_SHA"',
  ].join('\n');
}

export function demoDeployYml(hosts: string[], deploySeconds: number): string {
  // A command timeout near what the deploy needs: a host left in doubt by a crash can be asked its
  // revision only once the command's hard limit has passed (docs/exactly-once.md).
  const common = {
    hosts,
    deploy: deployCommand(deploySeconds),
    revision: 'cat "$HOST_DIR/$DEPLOY_ENVIRONMENT.sha" 2>/dev/null || true',
    timeouts: { connect: '5s', command: `${deploySeconds + 20}s`, total: '30m' },
  };
  return stringify({
    default_environment: 'staging',
    environments: {
      staging: { url: 'https://staging.acme.example', ...common, concurrency: 2 },
      production: {
        url: 'https://acme.example',
        ...common,
        concurrency: 3,
        production: true,
        permission: 'maintain',
        requires: ['staging'],
      },
    },
  });
}

/** `auto` prefers real sshd and falls back to ssh2 servers when sshd is missing or cannot start here (`sshdProblem` says why). */
export async function startHosts(
  count: number,
  kind: SshKind | 'auto' = 'auto',
): Promise<{ hosts: DemoHosts; kind: SshKind; sshdProblem?: string }> {
  if (kind === 'ssh2') return { hosts: await Ssh2Fleet.start(count), kind };
  if (kind === 'sshd') return { hosts: await SshdFleet.start(count), kind };
  if (!existsSync(SSHD)) return { hosts: await Ssh2Fleet.start(count), kind: 'ssh2', sshdProblem: `${SSHD} is not installed` };
  try {
    return { hosts: await SshdFleet.start(count), kind: 'sshd' };
  } catch (error) {
    return { hosts: await Ssh2Fleet.start(count), kind: 'ssh2', sshdProblem: (error as Error).message.split('\n')[0] };
  }
}

export async function startDemoWorld(options: DemoOptions = {}): Promise<DemoWorld> {
  const { hosts, kind, sshdProblem } = await startHosts(options.hostCount ?? 3, options.ssh);
  let world: World;
  try {
    world = await startWorld({
      deployYml: demoDeployYml(
        hosts.hosts.map((h) => h.spec),
        options.deploySeconds ?? 1,
      ),
    });
  } catch (error) {
    await hosts.close();
    throw error;
  }
  Object.assign(world.env, {
    SHIPGUARD_SSH_KEY: hosts.privateKey,
    SHIPGUARD_KNOWN_HOSTS: hosts.knownHosts,
    LOG_LEVEL: options.logLevel ?? 'fatal',
  });
  const { github, repo } = world;
  github.setPermission(REPOSITORY, DEVELOPER, 'maintain');
  const featureSha = github.setFile(REPOSITORY, 'app/version.txt', 'v2\n', 'feature');
  const pullRequest = github.addPullRequest(REPOSITORY, { headRef: 'feature', headSha: featureSha, author: DEVELOPER });
  const webUrl = github.apiUrl.replace(/\/api\/v3$/, '');

  const demo: DemoWorld = {
    world,
    github,
    repo,
    hosts,
    sshKind: kind,
    sshdProblem,
    pullRequest,
    featureSha,
    bot: null,
    async startBot() {
      demo.bot = await startBotIn(world);
      return demo.bot;
    },
    runAction({ environment, runId, sha, inputs, onLine }) {
      // The global fetch: @actions/github's own would follow a runner's proxy settings off loopback.
      return runActionStep({
        apiUrl: github.apiUrl,
        serverUrl: webUrl,
        token: USER_TOKEN,
        repository: REPOSITORY,
        sha: sha ?? featureSha,
        runId,
        actor: DEVELOPER,
        // pickup-timeout: a bound for a bot that never answers, far beyond a loaded machine's slowest pickup.
        inputs: { environment, 'pickup-timeout': '2m', 'wait-timeout': '5m', ...inputs },
        onLine,
      });
    },
    async comment(body) {
      return (await github.postComment(REPOSITORY, pullRequest, DEVELOPER, body)).commentId;
    },
    botComments() {
      return github.comments(REPOSITORY, pullRequest).filter((c) => c.user.type === 'Bot');
    },
    async waitForReply(commandId, timeoutMs, done = () => true) {
      const reply = () => demo.botComments().find((c) => c.id > commandId);
      try {
        return await github.waitFor(() => {
          const found = reply();
          return found && done(found) ? found : undefined;
        }, timeoutMs);
      } catch {
        return reply() ?? null;
      }
    },
    statuses: (id) => github.statuses(id),
    finalStatus: (id) => github.statuses(id).find((s) => isTerminalStatus(s.state)),
    waitForFinal(id, timeoutMs = 30_000) {
      return github.waitFor(() => demo.finalStatus(id), timeoutMs);
    },
    hostFile(index, name) {
      const path = join(hosts.hosts[index]!.dir, name);
      return existsSync(path) ? readFileSync(path, 'utf8') : null;
    },
    deployCount(index, environment, sha) {
      const log = demo.hostFile(index, 'deploys.log') ?? '';
      return log.split('\n').filter((line) => line.startsWith(`${environment} ${sha} `)).length;
    },
    async close() {
      try {
        await demo.bot?.stop();
      } finally {
        try {
          await world.close();
        } finally {
          await hosts.close();
        }
      }
    },
  };
  return demo;
}
