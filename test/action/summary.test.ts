// The job summary is one Markdown table; values from outside cannot break it or inject links.

import { describe, expect, it } from 'vitest';
import { summaryMarkdown, type SummaryFacts } from '../../src/summary.ts';

const facts: SummaryFacts = {
  environment: 'staging',
  sha: 'f'.repeat(40),
  deploymentId: 1042,
  state: 'failure',
  durationMs: 125_000,
  logUrl: 'https://shipguard.example/deployments/1042?sig=x',
  environmentUrl: '',
  duplicateOf: undefined,
  failure: 'deployment #1042 ended failure: exit 3 | on host a\nsecond line',
};

describe('summaryMarkdown', () => {
  it('writes one table row: environment, SHA, state, duration, link to the log', () => {
    const markdown = summaryMarkdown(facts);
    expect(markdown).toContain('| environment | SHA | state | duration | log |');
    expect(markdown).toContain(
      `| staging | \`${'f'.repeat(40)}\` | ❌ failure | 2m5s | [log](https://shipguard.example/deployments/1042?sig=x) |`,
    );
  });

  it('keeps the failure on one line with its pipes escaped', () => {
    expect(summaryMarkdown(facts)).toContain('> deployment #1042 ended failure: exit 3 \\| on host a second line');
  });

  it('links only http(s) addresses', () => {
    const markdown = summaryMarkdown({ ...facts, logUrl: 'javascript:alert(1)', environmentUrl: 'https://staging.example.com' });
    expect(markdown).not.toContain('javascript:');
    expect(markdown).toContain('[staging](https://staging.example.com)');
  });
});
