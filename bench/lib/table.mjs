// Builds the single comparison table: one row per figure, sanlock-ts beside sanlock, their
// ratio (sanlock-ts / sanlock), the target ratio where the issue sets one, and the minimum: the
// spec's for I/O rows, the disk's (same I/O without a daemon) for the cycle timing rows.
import { minimumIo, renewalIoPerMinute } from "./minimum-io.mjs";

const fmt = (x, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? "-" : x.toFixed(digits));
const mib = (kib) => `${fmt(kib / 1024)} MiB`;

function bytes(n) {
  if (!Number.isFinite(n)) return "?";
  // KiB with one decimal, so that one extra sector beside a 1 MiB read stays visible.
  return n === 0 ? "0" : `${fmt(n / 1024, 1)}K`;
}

/** "3R 3.0M + 3W 1.5K" for an I/O count entry. */
export const ioText = (e) => (e ? `${fmt(e.reads, 1)}R ${bytes(e.readBytes)} + ${fmt(e.writes, 1)}W ${bytes(e.writeBytes)}` : "-");

/** `ms` minus the floor, or undefined without either. */
const aboveFloor = (ms, floorMs) => (Number.isFinite(ms) && Number.isFinite(floorMs) ? ms - floorMs : undefined);

/**
 * "3.50 (disk floor)", or with the floor measured in several rounds its median and range:
 * "3.50 (disk floor, 3.1-4.2)".
 */
function floorText(floor, field, digits) {
  if (!floor) return "";
  const range = floor[`${field}Range`];
  const spread = range ? `, ${fmt(range.min, digits)}-${fmt(range.max, digits)}` : "";
  return `${fmt(floor[field], digits)} (disk floor${spread})`;
}

/**
 * Each daemon's acquire minus the floor: the median over the rounds of each round's difference
 * (each round against the floor measured at its start) when the run has it, else the run's
 * median acquire minus the floor's.
 */
/** Each daemon's parallel throughput as a share of the floor's (8 threads issuing the same I/O directly). */
const shareOfFloor = (r, floor) =>
  Number.isFinite(r.parallel?.cyclesPerSecond) && Number.isFinite(floor?.cyclesPerSecond) ? r.parallel.cyclesPerSecond / floor.cyclesPerSecond : undefined;

const aboveFloorOf = (r, floor) => r.ex?.aboveFloorMs ?? aboveFloor(r.ex?.acquireMedianMs, floor?.acquireMsMedian);

/**
 * "16.1 (bare node + 1 worker, 16.0-16.1)": RssAnon of a node process shaped like the daemon with
 * no sanlock-ts code (node-floor.mjs), the least the daemon's RssAnon can be.
 */
function memoryFloorText(memoryFloor) {
  if (!memoryFloor) return "";
  const [low, high] = memoryFloor.anonKiBRange ?? [];
  const spread = low !== undefined && high !== undefined && high > low ? `, ${fmt(low / 1024, 1)}-${fmt(high / 1024, 1)}` : "";
  return `${fmt(memoryFloor.anonKiB / 1024, 1)} (bare node + 1 worker${spread})`;
}

/** Row specs: [label, unit, pick(result) -> number|undefined, text(result) -> string, target, minimum]. */
function rowSpecs(ioTimeout, lockspaces, floor, memoryFloor) {
  const nodeFloor = memoryFloorText(memoryFloor);
  const floorMs = floorText(floor, "cycleMsMedian", 2);
  const floorAcquireMs = floor?.acquireMsMedian !== undefined ? floorText(floor, "acquireMsMedian", 2) : "";
  const floorRate = floorText(floor, "cyclesPerSecond", 0);
  // The same quantile of the disk's own cycles: how much of a daemon's tail is the disk's.
  const floorP99 = Number.isFinite(floor?.cycleMsP99) ? `${fmt(floor.cycleMsP99, 2)} (disk floor p99)` : "";
  const min = minimumIo();
  const renewalMin = renewalIoPerMinute(lockspaces, ioTimeout);
  const num = (pick, digits = 1) => [pick, (r) => fmt(pick(r), digits)];
  const io = (pick) => [
    (r) => {
      const e = pick(r);
      return e ? e.reads + e.writes : undefined;
    },
    (r) => ioText(pick(r)),
  ];
  return [
    // Targets are issue 20's (second round): the ratio to sanlock, or where marked, the figure itself.
    ["EX acquire+release, median", "ms", ...num((r) => r.ex?.medianMs, 2), "<= 0.6", floorMs],
    ["EX acquire+release, p99", "ms", ...num((r) => r.ex?.p99Ms, 2), "<= 1.0", floorP99],
    ["EX acquire alone, median", "ms", ...num((r) => r.ex?.acquireMedianMs, 2), "<= 0.6", floorAcquireMs],
    // The part each daemon adds to the disk's own time for the same I/O: what the daemon
    // controls, while the row above also moves with the disk's speed during the run.
    ["  above the disk floor", "ms", ...num((r) => aboveFloorOf(r, floor), 2), "", ""],
    ["SH acquire+release, median", "ms", ...num((r) => r.sh?.medianMs, 2), "", ""],
    ["SH acquire+release, p99", "ms", ...num((r) => r.sh?.p99Ms, 2), "", ""],
    ["8 clients in parallel", "cycles/s", ...num((r) => r.parallel?.cyclesPerSecond), "", floorRate],
    ["  share of the disk floor", "x", ...num((r) => shareOfFloor(r, floor), 2), ">= 0.8 (itself)", ""],
    [`acquire ${"N"} resources (8 procs)`, "s", ...num((r) => r.hold?.acquireSeconds, 2), "", ""],
    ["daemon RSS holding them", "MiB", ...num((r) => r.hold && r.hold.rssKiB / 1024), "<= 64 MiB", ""],
    ["  of which anonymous (RssAnon)", "MiB", ...num((r) => r.hold?.anonRssKiB && r.hold.anonRssKiB / 1024), "", nodeFloor],
    ["  10 s later, still holding", "MiB", ...num((r) => r.hold?.settledRssKiB && r.hold.settledRssKiB / 1024), "<= 64 MiB", ""],
    ["  of which anonymous", "MiB", ...num((r) => r.hold?.settledAnonRssKiB && r.hold.settledAnonRssKiB / 1024), "<= 24 MiB", nodeFloor],
    ["daemon CPU for that acquire", "s", ...num((r) => r.hold?.cpuAcquireSeconds, 2), "", ""],
    ["daemon RSS idle (1 lockspace)", "MiB", ...num((r) => r.idleRssKiB && r.idleRssKiB / 1024), "", ""],
    ["  of which anonymous", "MiB", ...num((r) => r.idleAnonKiB && r.idleAnonKiB / 1024), "", nodeFloor],
    [`join ${lockspaces} lockspaces at once`, "s", ...num((r) => r.spaces?.joinSeconds, 2), "", ""],
    [`renewal I/O, ${lockspaces} lockspaces`, "I/O/min", ...num((r) => r.spaces?.renewal?.iosPerMinute, 0), "", `~${fmt(renewalMin.ios, 0)}`],
    // Issue 20: a renewal that runs late eats the safety margin (§2.3: 2N + 0.5 s apart at the earliest).
    [`renewal lateness p99, ${lockspaces} lockspaces`, "ms", ...num((r) => r.spaces?.renewal?.lateness?.p99Ms, 0), "< 100 (itself)", "0 (every 2N + 0.5 s)"],
    ["  latest renewal", "ms", ...num((r) => r.spaces?.renewal?.lateness?.maxMs, 0), "", ""],
    [
      `renewal reads, ${lockspaces} lockspaces`,
      "MiB/min",
      ...num((r) => r.spaces?.renewal && r.spaces.renewal.readBytesPerMinute / 2 ** 20, 0),
      "",
      `~${fmt(renewalMin.readBytes / 2 ** 20, 0)}`,
    ],
    [`daemon CPU, ${lockspaces} lockspaces`, "%", ...num((r) => r.spaces?.cpuPercent, 2), "", ""],
    ["  once renewals ran a while", "%", ...num((r) => r.spaces?.settledCpuPercent, 2), "<= 1.5", ""],
    [`daemon RSS, ${lockspaces} lockspaces`, "MiB", ...num((r) => r.spaces && r.spaces.rssKiB / 1024), "", ""],
    [`leave ${lockspaces} lockspaces at once`, "s", ...num((r) => r.spaces?.leaveSeconds, 2), "", ""],
    ["add_lockspace", "s", ...num((r) => r.join?.addSeconds, 3), "<= 1.05", `>= ${2 * ioTimeout} (§2.2)`],
    ["rem_lockspace", "s", ...num((r) => r.join?.remSeconds, 3), "", ""],
    ["`client status` CLI wall time", "ms", ...num((r) => r.status?.medianMs, 1), "", ""],
    ["  `node -e 0`, interleaved", "ms", ...num((r) => r.status?.nodeMedianMs, 1), "", ""],
    ["  `client status` / `node -e 0`", "x", ...num((r) => r.status?.overNode, 2), "<= 1.2 (itself)", ""],
    ["I/O per EX acquire", "R+W", ...io((r) => r.io?.ex?.acquire), "", ioText(min.exAcquire)],
    ["I/O per EX release", "R+W", ...io((r) => r.io?.ex?.release), "", ioText(min.exRelease)],
    ["I/O per SH acquire", "R+W", ...io((r) => r.io?.sh?.acquire), "", ioText(min.shAcquire)],
    ["I/O per SH release", "R+W", ...io((r) => r.io?.sh?.release), "", ioText(min.shRelease)],
  ];
}

/** The table as text lines. `results` maps daemon kind to its figures (or { error }). */
export function renderTable(results, { ioTimeout, lockspaces, held, floor = null, memoryFloor = null }) {
  const ours = results["sanlock-ts"] ?? {};
  const theirs = results["sanlock"] ?? {};
  const header = ["figure", "unit", "sanlock-ts", "sanlock", "ratio ts/sl", "target", "minimum"];
  const rows = rowSpecs(ioTimeout, lockspaces, floor, memoryFloor).map(([label, unit, pick, text, target, minimum]) => {
    const a = pick(ours);
    const b = pick(theirs);
    const ratio = Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? fmt(a / b, 2) : "-";
    return [label.replace("N", String(held)), unit, text(ours), text(theirs), ratio, target, minimum];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)];
}

export { mib };
