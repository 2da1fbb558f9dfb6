// Waves (deploy.yml `waves: [1, 10%, 100%]`): cumulative host counts or percentages of the environment's
// hosts, resolved to the host count each wave ends at. Pure: the rollout and the config check both ask here.

/** One entry of `waves`: a host count, or a percentage of the hosts written `10%`. */
export type WaveStep = number | string;

const PERCENT = /^(\d{1,3}(?:\.\d{1,2})?)%$/;

/** The problem with one entry on its own (not a count ≥ 1 nor a percentage in (0, 100]), or null. */
export function waveStepError(step: WaveStep): string | null {
  if (typeof step === 'number') return Number.isInteger(step) && step >= 1 ? null : `${step} is not a host count (a whole number ≥ 1)`;
  const match = PERCENT.exec(step);
  if (!match) return `${JSON.stringify(step)} is neither a host count nor a percentage like 10%`;
  const percent = Number(match[1]);
  return percent > 0 && percent <= 100 ? null : `${step} is not a percentage between 0% and 100%`;
}

/** How many of `hostCount` hosts a step reaches: a percentage rounds up, so 10% of 5 hosts is 1. */
function reach(step: WaveStep, hostCount: number): number {
  if (typeof step === 'number') return step;
  return Math.max(1, Math.ceil((Number(PERCENT.exec(step)![1]) * hostCount) / 100 - 1e-9));
}

export type WavePlan = { ends: number[] } | { error: string };

/**
 * The host count each wave ends at, strictly increasing, the last one all hosts. Steps that reach as far
 * as the one before (10% of 5 hosts after 1) are merged into it: the same `waves` fits a small and a large
 * environment. A step that reaches fewer hosts than the one before, past the hosts, or a plan that does
 * not end with every host is an error saying which entry and why. No `waves`: one wave of every host.
 */
export function planWaves(steps: WaveStep[] | undefined, hostCount: number): WavePlan {
  if (!steps || steps.length === 0) return { ends: hostCount > 0 ? [hostCount] : [] };
  const ends: number[] = [];
  for (const [index, step] of steps.entries()) {
    const error = waveStepError(step);
    if (error) return { error: `waves[${index}]: ${error}` };
    const end = reach(step, hostCount);
    const shown = typeof step === 'number' ? `${step}` : `${step} (${end} of ${hostCount} hosts)`;
    if (end > hostCount) return { error: `waves[${index}]: ${shown} is more than the ${hostCount} hosts` };
    const previous = ends.at(-1) ?? 0;
    if (end < previous)
      return { error: `waves[${index}]: ${shown} is fewer hosts than the wave before (${previous}); waves are cumulative` };
    if (end > previous) ends.push(end);
  }
  if (ends.at(-1) !== hostCount) {
    return { error: `waves: must end with every host (100% or ${hostCount}); the last wave reaches ${ends.at(-1)} of ${hostCount}` };
  }
  return { ends };
}

/** The hosts' positions [start, end) of each wave, from planWaves' ends. */
export function waveRanges(ends: number[]): Array<{ start: number; end: number }> {
  return ends.map((end, index) => ({ start: index === 0 ? 0 : ends[index - 1]!, end }));
}

/** What a rollout in waves reports besides its hosts: shown on the status and the log page's timeline. */
export type WaveNews =
  /** `done`: hosts of the wave that ended deployed before it (re)started (a takeover mid-wave). */
  | { kind: 'started'; wave: number; waves: number; hosts: string[]; done: number }
  | { kind: 'baking'; wave: number; waves: number; msLeft: number }
  | { kind: 'gate'; wave: number; waves: number; passed: boolean; message: string };

/** The next wave needs a bake before it only when none of its hosts has started (a takeover mid-wave goes on). */
export function bakeBefore(nextWave: Array<{ outcome: unknown }>): boolean {
  return nextWave.length > 0 && nextWave.every((host) => host.outcome === null);
}
