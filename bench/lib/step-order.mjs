// Which daemon runs first in each step of the bench. The steps of one kind (e.g. the ten
// exclusive-cycle rounds) must alternate the order among themselves: alternating by the step's
// index in the whole list would, when two kinds interleave (ex, sh, ex, sh, ...), give every
// round of one kind the same daemon first, and with it the same position relative to the disk's
// and the machine's drift.

/** A step's kind: its result key up to "Round" or "." ("exRound3" -> "ex", "io.sh" -> "io"). */
export const stepKind = (resultKey) =>
  resultKey
    .replace(/Round\d+$/, "")
    .replace(/\..*$/, "")
    .replace(/^idle(Rss|Anon)KiB$/, "status");

/**
 * For each step key, whether its daemons run in reverse order. The n-th step of a kind is
 * reversed when n is odd, shifted by one for every other kind (in order of first appearance), so
 * that steps run once (join, hold, ...) also alternate among themselves.
 */
export function reversedOrder(keys) {
  const kindStart = new Map();
  const seen = new Map();
  return keys.map((key) => {
    const kind = stepKind(key);
    if (!kindStart.has(kind)) kindStart.set(kind, kindStart.size % 2);
    const n = seen.get(kind) ?? 0;
    seen.set(kind, n + 1);
    return (kindStart.get(kind) + n) % 2 === 1;
  });
}
