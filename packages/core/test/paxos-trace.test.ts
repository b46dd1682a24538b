// The trace lines' shapes that sanlock's own log has and a two-daemon test cannot easily reach:
// more than four dblocks (sanlock's BK_DEBUG_COUNT splits the line), and "max mbal[q]" rules.
import t from "tap";
import { emptyDblock, type Dblock } from "../src/ondisk/dblock.js";
import { emptyModeBlock } from "../src/ondisk/mode-block.js";
import type { HostSlot } from "../src/paxos-area.js";
import { dblockGroups, maxMbalIndex, traceGroups } from "../src/paxos-trace.js";

const slot = (hostId: number, d: Partial<Dblock>): HostSlot => ({ hostId, dblock: { ...emptyDblock(), ...d }, mode: emptyModeBlock() });

t.test("dblocks: four per line, shown only with mbal set and lver at least the leader's", async (t) => {
  const slots = [1, 2, 3, 4, 5, 6].map((h) => slot(h, { mbal: BigInt(h), lver: 2n }));
  slots.push(slot(7, { mbal: 7n, lver: 1n })); // an older instance: not shown
  slots.push(slot(8, { mbal: 0n, lver: 2n })); // no ballot: not shown
  const groups = dblockGroups(slots, 2n);
  t.same(groups, ["0:1:0:0:0:0:2:0,1:2:0:0:0:0:2:0,2:3:0:0:0:0:2:0,3:4:0:0:0:0:2:0,", "4:5:0:0:0:0:2:0,5:6:0:0:0:0:2:0,"]);
  const lines: string[] = [];
  traceGroups((line) => lines.push(line), groups, "leader 2 dblocks ", "leader 2 owner 1 1 99 dblocks ");
  t.same(lines, [
    "leader 2 dblocks 0:1:0:0:0:0:2:0,1:2:0:0:0:0:2:0,2:3:0:0:0:0:2:0,3:4:0:0:0:0:2:0,",
    "leader 2 owner 1 1 99 dblocks 4:5:0:0:0:0:2:0,5:6:0:0:0:0:2:0,",
  ]);
  t.same(dblockGroups([], 1n), [""], "nothing to show: one closing line, as sanlock prints");
  t.same(dblockGroups([slot(3, { mbal: 3n, lver: 1n, flags: 1 })], 1n), ["2:3:0:0:0:0:1:1,"], "flags in hex, q = host_id - 1");
});

t.test("max mbal[q]: the first slot with the largest mbal; the last slot when none has one", async (t) => {
  t.same(maxMbalIndex([slot(2, { mbal: 2002n }), slot(3, { mbal: 4003n }), slot(5, { mbal: 4003n })], 2000), { q: 2, mbal: 4003n });
  t.same(maxMbalIndex([], 2000), { q: 1999, mbal: 0n });
});
