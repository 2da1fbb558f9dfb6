// How the demo prints what happened: progress lines while it runs, then the statuses GitHub recorded
// for each deployment, what each host ran and holds, and the bot's replies.
import type { Comment, Deployment, DeploymentStatus } from '../../test/support/github-standin.ts';

// Captured at load: while the Action runs, process.stdout.write is redirected to collect its lines.
const write = process.stdout.write.bind(process.stdout);
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
export const bold = paint('1');
export const dim = paint('2');
const green = paint('32');
const red = paint('31');
const yellow = paint('33');

export function say(line = ''): void {
  write(`${line}\n`);
}

/** `▸ what…` now, then `ok (1.2 s)` or the error once `work` ends. */
export async function step<T>(what: string, work: () => Promise<T>, done: (value: T) => string = () => 'ok'): Promise<T> {
  const started = performance.now();
  say(`${bold('▸')} ${what}…`);
  const value = await work();
  say(`  ${done(value)} ${dim(`(${((performance.now() - started) / 1000).toFixed(1)} s)`)}`);
  return value;
}

export function stateColor(state: string): string {
  if (state === 'success' || state === 'succeeded' || state === 'skipped') return green(state);
  if (state === 'failure' || state === 'error' || state === 'failed' || state === 'unknown') return red(state);
  if (state === 'inactive') return dim(state);
  return yellow(state);
}

export function timeline(deployment: Deployment, statuses: DeploymentStatus[], label: string): string[] {
  const lines = [
    `${bold(`#${deployment.id}`)} ${deployment.environment} ${deployment.sha.slice(0, 7)} ${dim(`(${label}; created by ${deployment.creator.login} at ${clock(deployment.createdAt)})`)}`,
  ];
  for (const status of statuses)
    lines.push(`    ${clock(status.createdAt)}  ${stateColor(status.state).padEnd(color ? 20 : 11)} ${status.description}`);
  if (statuses.length === 0) lines.push(`    ${dim('no status')}`);
  return lines;
}

export interface HostRow {
  spec: string;
  /** SHA live per environment (from the host's `<environment>.sha`), or null. */
  live: Record<string, string | null>;
  /** Lines of the host's deploys.log: one per deploy command it ran. */
  deploys: string[];
}

export function hostTable(rows: HostRow[], environments: string[]): string[] {
  const width = Math.max(...rows.map((r) => r.spec.length), 4);
  const header = `    ${'host'.padEnd(width)}  ${environments.map((e) => e.padEnd(10)).join('  ')}  deploy commands run`;
  return [
    dim(header),
    ...rows.map((row) => {
      const live = environments.map((e) => (row.live[e]?.trim().slice(0, 7) ?? '-').padEnd(10)).join('  ');
      return `    ${row.spec.padEnd(width)}  ${live}  ${row.deploys.length} ${dim(
        `(${row.deploys
          .map((d) =>
            d
              .split(' ')
              .map((part, i) => (i === 1 ? part.slice(0, 7) : part))
              .join(' '),
          )
          .join(', ')})`,
      )}`;
    }),
  ];
}

export function reply(command: string, comment: Comment | null): string[] {
  if (!comment) return [`  ${bold(command)} → ${red('no reply from the bot')}`];
  return [
    `  ${bold(command)} → ${comment.user.login}:`,
    ...comment.body
      .trim()
      .split('\n')
      .map((line) => `    ${dim('│')} ${line}`),
  ];
}

function clock(iso: string): string {
  return iso.slice(11, 19);
}
