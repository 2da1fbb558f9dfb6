// The cap on `repository` and `environment` label values: the first pairs seen keep series of their own,
// later ones share `_other`, so a bot on many repositories cannot grow /metrics without bound.
import { describe, expect, it } from 'vitest';
import { EnvironmentLabels, MAX_LABELLED_ENVIRONMENTS } from '../../bot/web/metrics.ts';

describe('EnvironmentLabels', () => {
  it('gives each pair its own labels up to the cap, then _other; pairs seen before keep theirs', () => {
    const labels = new EnvironmentLabels(2);
    expect(labels.of('acme/app', 'staging')).toEqual({ repository: 'acme/app', environment: 'staging' });
    expect(labels.of('acme/app', 'production')).toEqual({ repository: 'acme/app', environment: 'production' });
    expect(labels.of('acme/web', 'staging')).toEqual({ repository: '_other', environment: '_other' });
    expect(labels.of('acme/app', 'staging')).toEqual({ repository: 'acme/app', environment: 'staging' });
    expect(labels.all()).toEqual([
      { repository: 'acme/app', environment: 'staging' },
      { repository: 'acme/app', environment: 'production' },
    ]);
  });

  it('tells pairs apart even when their names could run together', () => {
    const labels = new EnvironmentLabels(MAX_LABELLED_ENVIRONMENTS);
    labels.of('acme/a', 'b.c');
    labels.of('acme/a.b', 'c');
    expect(labels.all()).toHaveLength(2);
  });
});
