// The texts of the bot's reply comments. Pure: facts in, Markdown out. Text that came from a person
// (a lock reason, a bad argument) is shown inside a code span, so it cannot mention or format anything.
import { failuresMarkdown, type HostFailure } from '../../common/host-failures.ts';
import { COMMAND_NAMES, USAGE, USAGE_SEPARATOR } from './grammar.ts';
import type { Role } from '../engine/roles.ts';

const SHORT_SHA = 7;

/** A code span that holds any text: backticks and line breaks cannot escape it. */
export function code(text: string): string {
  const flat = text.replace(/\s+/g, ' ').replace(/`/g, "'").trim();
  return `\`${flat === '' ? ' ' : flat}\``;
}

function short(sha: string): string {
  return code(sha.slice(0, SHORT_SHA));
}

export function age(from: Date, now: Date): string {
  const minutes = Math.max(0, Math.round((now.getTime() - from.getTime()) / 60_000));
  if (minutes < 60) return `${minutes}m ago`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h ${minutes % 60}m ago` : `${Math.floor(hours / 24)}d ago`;
}

function when(at: Date, now: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC (${age(at, now)})`;
}

function list(items: string[]): string {
  return items.map((item) => `- ${item}`).join('\n');
}

// --- refusals and errors --------------------------------------------------------------------------

/** A command's usage as code; `/deploy` has two forms, each its own span. */
function usageCode(usage: string): string {
  return usage.split(USAGE_SEPARATOR).map(code).join(' · ');
}

export function invalidCommandReply(problem: string, usage: string[]): string {
  return `😕 **Not run**: ${problem}.\n\nValid:\n${list(usage.map(usageCode))}`;
}

export function unknownEnvironmentReply(environment: string, defined: string[]): string {
  return `😕 **Not run**: unknown environment ${code(environment)}.\n\n\`.github/deploy.yml\` on the default branch defines: ${defined.map(code).join(', ')}.`;
}

export function noEnvironmentReply(defined: string[]): string {
  return `😕 **Not run**: name an environment (\`.github/deploy.yml\` has no \`default_environment\`): ${defined.map((env) => code(`/deploy ${env}`)).join(', ')}.`;
}

export function configErrorReply(summary: string): string {
  return `😕 **Not run**: ${summary}.\n\nFix \`.github/deploy.yml\` on the default branch, then comment again.`;
}

export function permissionReply(user: string, role: Role, needed: Role, action: string): string {
  return `😕 **Not run**: ${action} needs the ${code(needed)} permission on this repository; @${user} has ${code(role)}.`;
}

export function pullRequestReply(problem: string): string {
  return `😕 **Not run**: ${problem}.`;
}

export function headMovedReply(headSha: string, at: Date, signal: 'push' | 'commit date', commentAt: Date): string {
  const how = signal === 'push' ? `was pushed at ${stamp(at)}` : `is dated ${stamp(at)}`;
  return (
    `😕 **Not run**: the pull request's head moved after your comment: ${short(headSha)} ${how}, ` +
    `after your comment (${stamp(commentAt)}). A command deploys only what its comment saw; comment again to act on ${short(headSha)}.`
  );
}

function stamp(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function failedReply(message: string): string {
  return `😕 **Not run**: ${message}.`;
}

export interface CheckState {
  context: string;
  state: string;
}

export function checksReply(environment: string, sha: string, checks: CheckState[]): string {
  const lines = checks.length ? checks.map((check) => `${code(check.context)}: ${check.state}`) : ['(GitHub named none)'];
  return `😕 **Not deployed** to **${environment}**: required checks are not green on ${short(sha)}.\n\n${list(lines)}\n\nComment again once they pass.`;
}

// --- deploys ----------------------------------------------------------------------------------------

export type DeployKind = 'deploy' | 'noop' | 'rollback';

export interface DeployView {
  kind: DeployKind;
  environment: string;
  sha: string;
  requestedBy: string;
  forced: boolean;
  /** The live SHA a rollback replaces. */
  rollbackOf: string | null;
  deploymentId: number | null;
  /** GitHub state of the latest status, or `requested` before the first. */
  state: 'requested' | 'queued' | 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';
  /** The engine refused it (duplicate, lock, promotion order, invalid input). */
  refused: boolean;
  description: string;
  logUrl: string | null;
  hostsDone: number;
  hostsTotal: number;
  /** The pull request's head when the deploy ended, when it is no longer the SHA deployed. */
  headMovedTo: string | null;
  /** Failing hosts with their output's tail, once the deploy has ended. */
  failures: HostFailure[];
}

export function deployReply(view: DeployView): string {
  const rows: Array<[string, string]> = [
    ['environment', `**${view.environment}**`],
    ['commit', `${code(view.sha)}${shaNote(view)}`],
    ['requested by', `@${view.requestedBy}${view.forced && view.kind !== 'rollback' ? ' (forced)' : ''}`],
  ];
  if (view.deploymentId !== null) rows.push(['deployment', `#${view.deploymentId}${view.logUrl ? ` · [log](${view.logUrl})` : ''}`]);
  if (view.hostsTotal > 0) rows.push(['hosts', `${view.hostsDone}/${view.hostsTotal} done`]);
  rows.push([isEnd(view.state) ? 'result' : 'state', `${view.state}${view.description ? `: ${view.description}` : ''}`]);
  const table = ['| | |', '| --- | --- |', ...rows.map(([name, value]) => `| ${name} | ${value.replace(/\|/g, '\\|')} |`)].join('\n');
  const moved = view.headMovedTo
    ? `\n\nThe pull request's head moved to ${short(view.headMovedTo)} after the command was read; ${short(view.sha)} is what was deployed. Comment again to deploy the new head.`
    : '';
  const failures = view.failures.length
    ? `\n\n<details open><summary>What the failing host${view.failures.length > 1 ? 's' : ''} printed last</summary>\n\n${failuresMarkdown(view.failures)}\n\n</details>`
    : '';
  return `${deployTitle(view)}\n\n${table}${moved}${failures}`;
}

function shaNote(view: DeployView): string {
  if (view.kind === 'rollback')
    return view.rollbackOf ? ` (previous successful deploy; live was ${short(view.rollbackOf)})` : ' (previous successful deploy)';
  return " (the pull request's head when the comment was made)";
}

function isEnd(state: DeployView['state']): boolean {
  return state === 'success' || state === 'failure' || state === 'error' || state === 'inactive';
}

function deployTitle(view: DeployView): string {
  const what = view.kind === 'rollback' ? 'Rollback' : view.kind === 'noop' ? 'Dry run (noop)' : 'Deploy';
  const target = `${short(view.sha)} to **${view.environment}**`;
  if (view.refused) return `⛔ **${what} refused**: ${target}`;
  switch (view.state) {
    case 'requested':
    case 'queued':
      return `⏳ **${what} ${view.state}**: ${target}`;
    case 'in_progress':
      return `🔄 **${what} running**: ${target}`;
    case 'success':
      return `✅ **${what} succeeded**: ${target}`;
    case 'failure':
      return `❌ **${what} failed**: ${target}`;
    case 'error':
      return `⚠️ **${what} ended in error**: ${target}`;
    case 'inactive':
      return `⏹️ **${what} not run**: ${target}`;
  }
}

export function nothingToRollBackReply(environment: string, live: string | null): string {
  return live
    ? `😕 **Not run**: **${environment}** has no successful deploy of another commit before the live one (${short(live)}), so there is nothing to roll back to.`
    : `😕 **Not run**: **${environment}** has no successful deploy yet, so there is nothing to roll back to.`;
}

// --- locks and cancel -------------------------------------------------------------------------------

export interface LockView {
  owner: string;
  reason: string;
  lockedAt: Date;
}

function lockText(lock: LockView, now: Date): string {
  return `locked by @${lock.owner} ${age(lock.lockedAt, now)}${lock.reason ? `: ${code(lock.reason)}` : ''}`;
}

export function lockedReply(environment: string, lock: LockView, now: Date): string {
  return `🔒 **${environment}** is now ${lockText(lock, now)}.\n\nDeploys by anyone else are refused until @${lock.owner} or an admin comments ${code(`/unlock ${environment}`)}.`;
}

export function alreadyLockedReply(environment: string, lock: LockView, now: Date): string {
  return `😕 **Not locked**: **${environment}** is already ${lockText(lock, now)}.`;
}

export function unlockedReply(environment: string, previous: LockView, by: string, now: Date): string {
  const whose = previous.owner === by ? '' : ` (it was ${lockText(previous, now)})`;
  return `🔓 **${environment}** is unlocked${whose}.`;
}

export function notLockedReply(environment: string): string {
  return `😕 **${environment}** is not locked: nothing to unlock.`;
}

export function unlockRefusedReply(environment: string, lock: LockView, user: string, now: Date): string {
  return `😕 **Not unlocked**: **${environment}** is ${lockText(lock, now)}; only @${lock.owner} or an admin may unlock it (@${user} is neither).`;
}

export interface CancelView {
  id: number;
  sha: string;
  state: 'queued' | 'running';
  requestedBy: string;
}

export function cancelReply(environment: string, cancelled: CancelView[], rollback = false): string {
  if (!cancelled.length) return `😕 **Nothing to cancel**: no deploy is queued or running on **${environment}**.`;
  const then = rollback ? ', then rolls back the hosts it changed' : '';
  const lines = cancelled.map((d) =>
    d.state === 'running'
      ? `#${d.id} ${short(d.sha)} by @${d.requestedBy}: running; stops after the hosts in progress${then}`
      : `#${d.id} ${short(d.sha)} by @${d.requestedBy}: queued; cancelled before it started`,
  );
  return `🛑 **Cancel requested** on **${environment}**:\n\n${list(lines)}`;
}

// --- status and help --------------------------------------------------------------------------------

export interface EnvironmentStatusView {
  environment: string;
  live: { sha: string; id: number; requestedBy: string; finishedAt: Date } | null;
  lock: LockView | null;
  active: Array<{ id: number; sha: string; state: 'queued' | 'running'; requestedBy: string; task: string; description: string }>;
  /** Which SHA runs on the hosts (`18 hosts on a1b2c3d, 2 on 9f8e7d6 (web-7, web-9)`); null without hosts. */
  hosts?: string | null;
}

/** `pageUrl`: the repository's signed environments page. */
export function statusReply(environments: EnvironmentStatusView[], now: Date, pageUrl?: string): string {
  const sections = environments.map((env) => {
    const lines = [
      env.live
        ? `live: ${short(env.live.sha)} (#${env.live.id}), deployed by @${env.live.requestedBy} ${when(env.live.finishedAt, now)}`
        : 'live: nothing deployed by shipguard yet',
      ...(env.hosts ? [`hosts: ${env.hosts}`] : []),
      env.lock ? lockText(env.lock, now) : 'not locked',
      ...env.active.map(
        (d) =>
          `${d.state}: #${d.id} ${short(d.sha)}${d.task === 'deploy' ? '' : ` (${d.task})`} by @${d.requestedBy}${d.description ? ` (${d.description})` : ''}`,
      ),
    ];
    return `**${env.environment}**\n${list(lines)}`;
  });
  return `📋 **Status**\n\n${sections.join('\n\n')}${pageUrl ? `\n\n[All environments, live](${pageUrl})` : ''}`;
}

export interface HelpEnvironment {
  environment: string;
  permission: Role;
  isDefault: boolean;
}

export function helpReply(user: string, role: Role, environments: HelpEnvironment[], mayUse: (needed: Role) => boolean): string {
  const commands = list(COMMAND_NAMES.map((name) => `${usageCode(USAGE[name])}: ${COMMAND_HELP[name]}`));
  const rows = environments.map(
    (env) =>
      `| ${env.environment}${env.isDefault ? ' (default)' : ''} | ${env.permission} | ${mayUse(env.permission) ? '✅ yes' : '❌ no'} |`,
  );
  const table = ['| environment | needs | you may deploy |', '| --- | --- | --- |', ...rows].join('\n');
  return `ℹ️ **Commands** (the first line of a comment on an open pull request of this repository):\n\n${commands}\n\n**Environments** (@${user} has ${code(role)}):\n\n${table}`;
}

const COMMAND_HELP: Record<(typeof COMMAND_NAMES)[number], string> = {
  deploy:
    "deploys this pull request's head commit (`--force` runs it again after a success; `noop` runs the commands with `DEPLOY_NOOP=1`)",
  rollback: 'deploys the previous successful commit of the environment again',
  lock: 'refuses deploys by anyone else until unlocked',
  unlock: 'lifts your lock (admins may lift anyone’s)',
  cancel: 'stops the running deploy after the hosts in progress, and cancels queued ones; --rollback: then rolls back the hosts it changed',
  status: 'what is live, who deployed it and when, locks, deploys running or queued',
  help: 'this list',
};
