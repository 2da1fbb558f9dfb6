// A host's output as the engine receives it: the first `headLimit` characters of each stream pass at
// once, later ones are held as a tail of `tailLimit` characters and sent, after a marker saying how much
// was dropped, when the host finishes. A deploy that prints gigabytes cannot flood the engine or memory.
import type { DeployEvents } from '../deployer.ts';
import type { HostOutcome } from '../../engine/outcomes.ts';

interface StreamBudget {
  sent: number;
  tail: string;
  dropped: number;
}

export function boundHostOutput(events: DeployEvents, headLimit: number, tailLimit: number): DeployEvents {
  const budgets = new Map<string, StreamBudget>();
  const budget = (host: string, stream: 'stdout' | 'stderr') => {
    const key = `${stream} ${host}`;
    let entry = budgets.get(key);
    if (!entry) budgets.set(key, (entry = { sent: 0, tail: '', dropped: 0 }));
    return entry;
  };
  const flushTails = (host: string) => {
    for (const stream of ['stdout', 'stderr'] as const) {
      const entry = budgets.get(`${stream} ${host}`);
      if (!entry) continue;
      budgets.delete(`${stream} ${host}`);
      if (!entry.tail) continue;
      const marker = entry.dropped ? `\n… ${entry.dropped} characters dropped …\n` : '';
      events.hostOutput(host, stream, marker + entry.tail);
    }
  };
  return {
    hostStarted: (host) => events.hostStarted(host),
    hostPhase: (host, phase) => events.hostPhase(host, phase),
    beginStep: (host, phase, hardLimitMs) => events.beginStep(host, phase, hardLimitMs),
    progress: (description, logUrl) => events.progress(description, logUrl),
    wave: (news) => events.wave(news),
    beginFleetRollback: (reason) => events.beginFleetRollback(reason),
    hostOutput(host, stream, text) {
      const entry = budget(host, stream);
      const room = Math.max(0, headLimit - entry.sent);
      if (room > 0) {
        const head = text.slice(0, room);
        entry.sent += head.length;
        events.hostOutput(host, stream, head);
        text = text.slice(room);
      }
      if (!text) return;
      entry.tail += text;
      if (entry.tail.length > tailLimit) {
        entry.dropped += entry.tail.length - tailLimit;
        entry.tail = entry.tail.slice(-tailLimit);
      }
    },
    hostFinished(host: string, outcome: HostOutcome, message: string, settled: boolean) {
      flushTails(host);
      events.hostFinished(host, outcome, message, settled);
    },
  };
}
