// The job summary: one table row saying where, what, how it ended, how long it took, and where the log is.

import { appendFile } from 'node:fs/promises';
import { formatDuration } from '../common/duration.ts';
import { failuresMarkdown, type HostFailure } from '../common/host-failures.ts';

export interface SummaryFacts {
  environment: string;
  sha: string;
  deploymentId: number;
  /** The final state, or '' when the Action did not wait for one. */
  state: string;
  durationMs: number;
  logUrl: string;
  environmentUrl: string;
  duplicateOf: number | undefined;
  /** The line the step failed with, if it did. */
  failure: string | undefined;
  /** The failing hosts' last output, when the bot's log page could be read. */
  hostFailures?: HostFailure[];
}

const STATE_MARKS: Record<string, string> = {
  success: '✅',
  failure: '❌',
  error: '❌',
  timeout: '⏱️',
  inactive: '⏸️',
};

export function summaryMarkdown(facts: SummaryFacts): string {
  const state = facts.state ? `${STATE_MARKS[facts.state] ?? ''} ${facts.state}`.trim() : 'created (not followed: wait is false)';
  const log = isHttpUrl(facts.logUrl) ? `[log](${facts.logUrl})` : '—';
  const environment = isHttpUrl(facts.environmentUrl) ? `[${cell(facts.environment)}](${facts.environmentUrl})` : cell(facts.environment);
  const lines = [
    `### shipguard deployment #${facts.deploymentId}`,
    '',
    '| environment | SHA | state | duration | log |',
    '| --- | --- | --- | --- | --- |',
    `| ${environment} | \`${cell(facts.sha)}\` | ${cell(state)} | ${formatDuration(facts.durationMs)} | ${log} |`,
    '',
  ];
  if (facts.duplicateOf !== undefined) lines.push(`Refused as a duplicate of deployment #${facts.duplicateOf}.`, '');
  if (facts.failure) lines.push(`> ${cell(facts.failure)}`, '');
  if (facts.hostFailures?.length) lines.push(failuresMarkdown(facts.hostFailures), '');
  return lines.join('\n');
}

/** Appends to the file the runner shows as the job summary; does nothing outside a runner. */
export async function writeJobSummary(facts: SummaryFacts, summaryPath: string | undefined): Promise<void> {
  if (!summaryPath) return;
  await appendFile(summaryPath, summaryMarkdown(facts), 'utf8');
}

/** A value made safe for one Markdown table cell. */
function cell(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replaceAll('|', '\\|');
}

function isHttpUrl(text: string): boolean {
  if (!/^https?:\/\//.test(text)) return false;
  try {
    new URL(text);
    return !/[\s()<>]/.test(text);
  } catch {
    return false;
  }
}
