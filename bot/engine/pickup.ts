// Whether a deployment may still start, judged by the statuses GitHub holds for it. The Action gives up
// on a deployment no bot picked up within its pickup-timeout by writing `error` on it, and then reads the
// statuses again; the bot, before the first host, reads them after its own `queued` is visible there.
// Whichever of the two wrote second sees the other's write, so "the step said no bot picked it up" and
// "the hosts ran" exclude each other (docs/exactly-once.md, "Abandoned deployments").
import { isTerminalStatus, type TerminalStatusState } from '../../common/deploy-intent.ts';

export type PickupCheck =
  /** Nothing on GitHub ended it, and the bot's own pickup status is there for the Action to see. */
  | { kind: 'clear' }
  /** Someone (the Action giving up, a person) ended it on GitHub before it started: it must not run. */
  | { kind: 'ended'; state: TerminalStatusState }
  /** The bot's `queued`/`in_progress` has not reached GitHub yet: ask again once it has. */
  | { kind: 'pickup-not-visible' };

/** The bot writes no terminal status before a deployment ends, so any terminal one is someone else's. */
export function endedOnGitHub(states: readonly string[]): TerminalStatusState | null {
  return states.find(isTerminalStatus) ?? null;
}

export function pickupCheck(states: readonly string[]): PickupCheck {
  const ended = endedOnGitHub(states);
  if (ended) return { kind: 'ended', state: ended };
  return states.some((state) => state === 'queued' || state === 'in_progress') ? { kind: 'clear' } : { kind: 'pickup-not-visible' };
}

export function notRunDescription(state: TerminalStatusState): string {
  return `not run: GitHub showed ${state} before the first host started (the requester stopped waiting)`;
}
