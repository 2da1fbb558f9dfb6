// Status descriptions: GitHub refuses more than 140 characters, so every text is cut to fit here.
import { formatDuration } from '../../common/duration.ts';

export const MAX_DESCRIPTION = 140;

export function fitDescription(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= MAX_DESCRIPTION ? oneLine : `${oneLine.slice(0, MAX_DESCRIPTION - 1)}…`;
}

export function progressDescription(done: number, total: number, running: number): string {
  if (total === 0) return 'deploying';
  return running > 0 || done < total ? `deploying ${done}/${total} hosts` : `deployed ${done}/${total} hosts`;
}

/** Progress updates go out at most this often per deployment; phases always go out (docs/engine-rules.md). */
export const PROGRESS_INTERVAL_MS = 5_000;

/** `wave 2/3: 3/5 hosts`: the hosts of the wave in progress that are done. */
export function waveDescription(wave: number, waves: number, done: number, size: number): string {
  return `wave ${wave}/${waves}: ${done}/${size} hosts`;
}

/** `wave 2/3 baking, 1m left` (rounded up to a whole second). */
export function bakeDescription(wave: number, waves: number, msLeft: number): string {
  return `wave ${wave}/${waves} baking, ${formatDuration(Math.ceil(msLeft / 1000) * 1000)} left`;
}
