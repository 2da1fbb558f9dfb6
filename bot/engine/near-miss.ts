// "Did you mean …?": the closest known word to a misspelt one (`permision` → `permission`), for
// deploy.yml's unknown keys, values and environment names.

/** Edits between two words: insertions, deletions, substitutions and swaps of neighbours (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

const normalised = (word: string) => word.toLowerCase().replaceAll('-', '_');

/**
 * The candidate closest to `word` when it is close enough to be a slip (a third of its letters at most)
 * or the one word it abbreviates, else undefined.
 */
export function nearMiss(word: string, candidates: Iterable<string>): string | undefined {
  // Long input (a pasted script where a key belongs) is no slip, and would cost a quadratic table.
  if (word.length > 64) return undefined;
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(normalised(word), normalised(candidate));
    if (distance <= limit && (!best || distance < best.distance)) best = { candidate, distance };
  }
  if (best) return best.candidate;
  // An abbreviation (`prod` for `production`), when it abbreviates one word only.
  const longer = [...candidates].filter((candidate) => word.length >= 3 && normalised(candidate).startsWith(normalised(word)));
  return longer.length === 1 ? longer[0] : undefined;
}
