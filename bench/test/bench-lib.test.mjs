// The benchmark's own arithmetic: strace parsing (lines in the format strace 6 prints for
// sanlock's libaio path and for libuv's pread/pwrite path), I/O attribution, quantiles and the
// spec-derived minimum I/O.
import t from "tap";
import { ioPerOperation, parseTraceLine, periodicIoPerMinute, renewalLatenessMs } from "../lib/io-trace.mjs";
import { ballotReadBytes, minimumIo, renewalIoPerMinute } from "../lib/minimum-io.mjs";
import { addSamples, median, p99, quantile } from "../lib/stats.mjs";
import { renderTable } from "../lib/table.mjs";

const RES = "res.lease";

t.test("io_submit: one I/O per iocb on the lease file, with its length", async (t) => {
  const read =
    "1795321222.376863 io_submit(0x7fb9b5af0000, 1, [{aio_data=0, aio_lio_opcode=IOCB_CMD_PREAD, aio_fildes=9</var/tmp/b/res.lease>, aio_buf=0x7fb9b43fd000, aio_nbytes=1048576, aio_offset=0}]) = 1";
  const write =
    '1795321222.378562 io_submit(0x7fb9b5af0000, 1, [{aio_data=0, aio_lio_opcode=IOCB_CMD_PWRITE, aio_fildes=9</var/tmp/b/res.lease>, aio_buf="\\1"..., aio_nbytes=512, aio_offset=1024}]) = 1';
  t.same(parseTraceLine(read, RES), [{ t: 1795321222.376863, kind: "read", bytes: 1048576, offset: 0 }]);
  t.same(parseTraceLine(write, RES), [{ t: 1795321222.378562, kind: "write", bytes: 512, offset: 1024 }]);
  t.same(parseTraceLine(read.replace("res.lease", "ls.lease"), RES), [], "another file is not counted");
  const two =
    '1.5 io_submit(0x1, 2, [{aio_data=0, aio_lio_opcode=IOCB_CMD_PREAD, aio_fildes=9</x/res.lease>, aio_buf=0x1, aio_nbytes=512, aio_offset=0}, {aio_data=0, aio_lio_opcode=IOCB_CMD_PWRITE, aio_fildes=7</x/ls.lease>, aio_buf="", aio_nbytes=512, aio_offset=0}]) = 2';
  t.same(parseTraceLine(two, RES), [{ t: 1.5, kind: "read", bytes: 512, offset: 0 }], "only the iocb on the lease file");
});

t.test("pread64/pwrite64: the requested length, even if the buffer text looks like arguments", async (t) => {
  const pread = '1795321231.968212 pread64(23</var/tmp/b/res.lease>, "\\20"..., 1048576, 0) = 1048576';
  const pwrite = '1795321231.972656 pwrite64(23</var/tmp/b/res.lease>, ", 7, 8) = 9"..., 512, 1024) = 512';
  t.same(parseTraceLine(pread, RES), [{ t: 1795321231.968212, kind: "read", bytes: 1048576, offset: 0 }]);
  t.same(parseTraceLine(pwrite, RES), [{ t: 1795321231.972656, kind: "write", bytes: 512, offset: 1024 }]);
  t.same(parseTraceLine('1.0 pread64(5</x/other>, "", 512, 0) = 512', RES), []);
  t.same(parseTraceLine("--- SIGCHLD {si_signo=SIGCHLD} ---", RES), []);
});

t.test("preadv/pwritev: the returned length and the offset", async (t) => {
  const preadv = "2.5 preadv(23</x/res.lease>, [{iov_base=0x1, iov_len=1048576}], 1, 2097152) = 1048576";
  t.same(parseTraceLine(preadv, RES), [{ t: 2.5, kind: "read", bytes: 1048576, offset: 2097152 }]);
});

t.test("periodic I/O rate: each offset's own period, whatever rounds a window cuts", async (t) => {
  // 64 lockspaces renewing in step every 2.6 s (a read of the area, a write of our sector).
  const rounds = (from, to) => {
    const ios = [];
    for (let round = 0; round < 40; round++) {
      const at = 0.3 + round * 2.6;
      if (at < from || at >= to) continue;
      for (let ls = 0; ls < 64; ls++) {
        ios.push({ t: at + ls * 0.001, kind: "read", bytes: 1048576, offset: ls * 1048576 });
        ios.push({ t: at + ls * 0.001 + 0.002, kind: "write", bytes: 512, offset: ls * 1048576 });
      }
    }
    return ios;
  };
  const expected = 64 * 2 * (60 / 2.6);
  for (const from of [0, 1, 2.1]) {
    const window = rounds(from, from + 20);
    t.ok(Math.abs(periodicIoPerMinute(window) - expected) < 1, `window from ${from} s: ${periodicIoPerMinute(window)} per minute`);
  }
  const counts = [0, 1, 2.1].map((from) => rounds(from, from + 20).length * 3);
  t.not(Math.min(...counts), Math.max(...counts), "plain counts in the same windows differ by a round");
  t.equal(periodicIoPerMinute([{ t: 1, kind: "read", offset: 0 }]), 0, "one I/O per offset gives no period");
});

t.test("I/O is charged to the operation whose mark precedes it, averaged per operation", async (t) => {
  const marks = [
    ["acquire", 10],
    ["release", 20],
    ["acquire", 30],
    ["release", 40],
    ["end", 50],
  ];
  const ios = [
    { t: 5, kind: "read", bytes: 1 }, // before the first mark: not counted
    { t: 11, kind: "read", bytes: 1024 },
    { t: 12, kind: "write", bytes: 512 },
    { t: 21, kind: "write", bytes: 512 },
    { t: 31, kind: "read", bytes: 2048 },
    { t: 32, kind: "write", bytes: 512 },
    { t: 41, kind: "write", bytes: 512 },
    { t: 42, kind: "write", bytes: 512 },
    { t: 55, kind: "write", bytes: 1 }, // after the end mark: not counted
  ];
  t.same(ioPerOperation(ios, marks), {
    acquire: { reads: 1, readBytes: 1536, writes: 1, writeBytes: 512 },
    release: { reads: 0, readBytes: 0, writes: 1.5, writeBytes: 768 },
  });
});

t.test("quantiles by nearest rank", async (t) => {
  const samples = [5, 1, 4, 2, 3];
  t.equal(median(samples), 3);
  t.equal(quantile(samples, 0), 1);
  t.equal(quantile(samples, 1), 5);
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
  t.equal(p99(hundred), 99);
  t.ok(Number.isNaN(median([])));
  t.throws(() => quantile(samples, 1.5), RangeError);
  t.same(addSamples([1, 2], [10, 20]), [11, 22]);
  t.throws(() => addSamples([1], [1, 2]), RangeError);
});

t.test("minimum I/O matches the spec's own statements", async (t) => {
  // docs/algorithms.md §4.1: "2048 sectors = 1 MiB for 512 B sectors and 2000 hosts".
  t.equal(ballotReadBytes(2000, 512), 1024 * 1024);
  t.equal(ballotReadBytes(250, 4096), 256 * 4096);
  // docs/algorithms.md §4.3: "An acquire of a free lease thus costs 3 reads and 3 single-sector writes".
  const { exAcquire, exRelease, shRelease } = minimumIo();
  t.equal(exAcquire.reads, 3);
  t.equal(exAcquire.writes, 3);
  t.equal(exAcquire.writeBytes, 3 * 512);
  // docs/algorithms.md §4.8: leader read of one sector, two single-sector writes; docs/algorithms.md §5.3: one write.
  t.same([exRelease.reads, exRelease.writes], [1, 2]);
  t.same([shRelease.reads, shRelease.writes], [0, 1]);
  // docs/algorithms.md §2.3 at N = 1: one renewal (read + write of the 1 MiB area) every 2N + 0.5 = 2.5 s, 24 a minute.
  t.same(renewalIoPerMinute(1, 1), { ios: 48, readBytes: 24 * 1024 * 1024 });
});

t.test("CPU profile summary: self time per area and function, inside a time window", async (t) => {
  const { summarizeProfile, areaOf } = await import("../lib/cpu-profile.mjs");
  const frame = (functionName, url) => ({ functionName, url, lineNumber: 9, columnNumber: 0, scriptId: "0" });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame("(root)", "") },
      { id: 2, callFrame: frame("(idle)", "") },
      { id: 3, callFrame: frame("readDblockFields", "file:///repo/packages/core/dist/ondisk/dblock.js") },
      { id: 4, callFrame: frame("read", "node:fs") },
    ],
    startTime: 1000,
    endTime: 5000,
    // samples at 2000 (idle), 3000 (core), 4000 (core), 4500 (fs)
    samples: [2, 3, 3, 4],
    timeDeltas: [1000, 1000, 1000, 500],
  };
  const all = summarizeProfile(profile);
  t.equal(all.totalMs, 3.5);
  t.same(all.byArea, [
    ["@sanlock-ts/core", 2],
    ["idle (event loop waiting)", 1],
    ["node fs", 0.5],
  ]);
  t.same(all.byFunction[0], ["readDblockFields core/dist/ondisk/dblock.js:10", 2]);
  const windowed = summarizeProfile(profile, 20, { fromUs: 2500, toUs: 4200 });
  t.same(windowed.byArea, [["@sanlock-ts/core", 2]], "only the samples at 3000 and 4000");
  t.equal(areaOf(frame("(garbage collector)", "")), "garbage collector");
});

t.test("table: ratio per row and the disk floor beside the acquire rows", async (t) => {
  const results = {
    "sanlock-ts": { ex: { medianMs: 6, p99Ms: 9, acquireMedianMs: 4 } },
    sanlock: { ex: { medianMs: 8, p99Ms: 12, acquireMedianMs: 5 } },
  };
  const floor = { cycleMsMedian: 3.5, acquireMsMedian: 2.75, cyclesPerSecond: 480 };
  const lines = renderTable(results, { ioTimeout: 1, lockspaces: 64, held: 1000, floor });
  const row = (label) =>
    lines
      .find((l) => l.includes(label))
      ?.split("|")
      .map((c) => c.trim());
  const cycle = row("EX acquire+release, median");
  const alone = row("EX acquire alone, median");
  t.same(cycle?.slice(3, 8), ["6.00", "8.00", "0.75", "<= 0.6", "3.50 (disk floor)"]);
  t.same(alone?.slice(3, 8), ["4.00", "5.00", "0.80", "<= 0.6", "2.75 (disk floor)"]);
  t.same(row("above the disk floor")?.slice(3, 6), ["1.25", "2.25", "0.56"], "each daemon's acquire minus the floor, and their ratio");
  const noFloor = renderTable(results, { ioTimeout: 1, lockspaces: 64, held: 1000, floor: null });
  t.match(
    noFloor.find((l) => l.includes("above the disk floor")),
    /\| - +\| - +\| - +\|/,
    "nothing to subtract without a floor",
  );
  t.match(row("8 clients in parallel")?.[7], /^480 \(disk floor\)$/);
  const withParallel = renderTable(
    { "sanlock-ts": { parallel: { cyclesPerSecond: 360 } }, sanlock: { parallel: { cyclesPerSecond: 120 } } },
    { ioTimeout: 1, lockspaces: 64, held: 1000, floor },
  );
  t.match(
    withParallel.find((l) => l.includes("share of the disk floor")),
    /\| 0\.75 +\| 0\.25 +\|/,
    "each daemon's cycles/s over the floor's",
  );
});

t.test("daemon order alternates within each kind of step, also when kinds interleave", async (t) => {
  const { reversedOrder, stepKind } = await import("../lib/step-order.mjs");
  const keys = ["join", "idleRssKiB", "status"];
  for (let round = 0; round < 4; round++) keys.push(`floorRound${round}`, `exRound${round}`, `shRound${round}`);
  keys.push("parallelRound0", "parallelRound1", "io.ex", "io.sh", "hold", "spaces", "left");
  const reversed = reversedOrder(keys);
  const ofKind = (kind) => keys.flatMap((k, i) => (stepKind(k) === kind ? [reversed[i]] : []));
  for (const kind of ["ex", "sh", "parallel", "io"]) {
    const order = ofKind(kind);
    t.ok(
      order.every((r, i) => i === 0 || r !== order[i - 1]),
      `${kind}: each step runs the daemons in the other order than the one before (${order})`,
    );
  }
  t.equal(ofKind("ex").filter(Boolean).length, 2, "half the EX rounds run each daemon first");
  t.not(ofKind("ex")[0], ofKind("sh")[0], "the EX and SH rounds of one cycle round start with different daemons");
  t.same(reversedOrder(["exRound0", "exRound1", "exRound2"]), [false, true, false], "--steps ex alone alternates too");
  t.equal(stepKind("io.sh"), "io");
  t.equal(stepKind("idleRssKiB"), "status");
  t.equal(stepKind("idleAnonKiB"), "status", "idle RssAnon is read with the idle RSS, after the joins");
});

t.test("floors of several rounds: median of each figure and its range", async (t) => {
  const { summarizeFloors } = await import("../lib/io-floor.mjs");
  t.equal(summarizeFloors([]), null);
  const s = summarizeFloors([
    { cycleMsMedian: 4, acquireMsMedian: 3, cyclesPerSecond: 500 },
    { cycleMsMedian: 2, acquireMsMedian: 1, cyclesPerSecond: 700 },
    { cycleMsMedian: 3, acquireMsMedian: 2, cyclesPerSecond: 600 },
  ]);
  t.same([s.rounds, s.cycleMsMedian, s.acquireMsMedian, s.cyclesPerSecond], [3, 3, 2, 600]);
  t.same(s.acquireMsMedianRange, { min: 1, max: 3 });
  const lines = renderTable(
    { "sanlock-ts": { ex: { acquireMedianMs: 4, aboveFloorMs: 1.5 } }, sanlock: { ex: { acquireMedianMs: 5, aboveFloorMs: 3 } } },
    { ioTimeout: 1, lockspaces: 64, held: 1000, floor: s },
  );
  const row = (label) =>
    lines
      .find((l) => l.includes(label))
      .split("|")
      .map((c) => c.trim());
  t.equal(row("EX acquire alone, median")[7], "2.00 (disk floor, 1.00-3.00)");
  t.equal(s.cycleMsP99, undefined, "rounds without their cycle times: no floor p99");
  t.equal(row("EX acquire+release, p99")[7], "", "and none in the table");
  t.same(row("above the disk floor").slice(3, 6), ["1.50", "3.00", "0.50"], "the per-round differences the run computed, not acquire minus floor");
});

t.test("table: the bare node process's RssAnon beside the daemon's", async (t) => {
  const results = {
    "sanlock-ts": { hold: { anonRssKiB: 40 * 1024, settledAnonRssKiB: 30 * 1024 }, idleAnonKiB: 24 * 1024 },
    sanlock: { hold: { anonRssKiB: 10 * 1024, settledAnonRssKiB: 10 * 1024 }, idleAnonKiB: 5 * 1024 },
  };
  const memoryFloor = { anonKiB: 21 * 1024, anonKiBRange: [20.5 * 1024, 21.5 * 1024] };
  const lines = renderTable(results, { ioTimeout: 1, lockspaces: 64, held: 1000, memoryFloor });
  const rows = lines.filter((l) => l.includes("of which anonymous")).map((l) => l.split("|").map((c) => c.trim()));
  t.same(
    rows.map((r) => r.slice(3, 8)),
    [
      ["40.0", "10.0", "4.00", "", "21.0 (bare node + 1 worker, 20.5-21.5)"],
      ["30.0", "10.0", "3.00", "<= 24 MiB", "21.0 (bare node + 1 worker, 20.5-21.5)"],
      ["24.0", "5.0", "4.80", "", "21.0 (bare node + 1 worker, 20.5-21.5)"],
    ],
    "holding the leases, 10 s later, and idle with one lockspace",
  );
  const without = renderTable(results, { ioTimeout: 1, lockspaces: 64, held: 1000 });
  t.same(
    without.filter((l) => l.includes("of which anonymous")).map((l) => l.split("|").map((c) => c.trim())[7]),
    ["", "", ""],
    "no floor measured: the column stays empty",
  );
});

t.test("node memory floor: a bare node process shaped like the daemon, measured", async (t) => {
  const { measureNodeMemoryFloor, NODE_FLOOR_RUNS } = await import("../lib/node-floor.mjs");
  const floor = await measureNodeMemoryFloor();
  t.equal(floor.runs.length, NODE_FLOOR_RUNS);
  // A node process with a worker thread holds some MiB of V8 heap and malloc arenas of its own.
  t.ok(floor.anonKiB > 4 * 1024 && floor.anonKiB < 200 * 1024, `RssAnon ${floor.anonKiB} KiB is a node process's`);
  t.ok(floor.anonKiBRange[0] <= floor.anonKiB && floor.anonKiB <= floor.anonKiBRange[1]);
});

t.test("floor p99: every round's cycles pooled, beside the daemons' p99", async (t) => {
  const { summarizeFloors } = await import("../lib/io-floor.mjs");
  // 200 cycles over two rounds: 1..100 ms and 101..200 ms; the pooled p99 (nearest rank) is 198.
  const round = (from) => ({ cycleMsMedian: 1, acquireMsMedian: 1, cyclesPerSecond: 1, cycleMs: Array.from({ length: 100 }, (_, i) => from + i) });
  const s = summarizeFloors([round(101), round(1)]);
  t.equal(s.cycleMsP99, 198, "not the p99 of either round alone (99 or 199)");
  const lines = renderTable({ "sanlock-ts": { ex: { p99Ms: 250 } }, sanlock: { ex: { p99Ms: 260 } } }, { ioTimeout: 1, lockspaces: 64, held: 1000, floor: s });
  const cells = lines
    .find((l) => l.includes("EX acquire+release, p99"))
    .split("|")
    .map((c) => c.trim());
  t.same(cells.slice(3, 8), ["250.00", "260.00", "0.96", "<= 1.0", "198.00 (disk floor p99)"]);
});

t.test("renewal lateness: each host sector's gaps between writes beyond 2N + 0.5 s, reads not counted", async (t) => {
  const write = (t, offset) => ({ t, kind: "write", bytes: 512, offset });
  const ios = [
    // Lockspace at 0: on time, then 40 ms late, then 1 s late (a missed loop turn).
    write(100.0, 0),
    write(102.5, 0),
    write(105.04, 0),
    write(108.54, 0),
    // Lockspace at 1 MiB, out of order in the trace: 10 ms late once.
    write(103.51, 1048576),
    write(101.0, 1048576),
    { t: 101.2, kind: "read", bytes: 1048576, offset: 1048576 },
    // Written once in the window: no gap.
    write(104.0, 2097152),
  ];
  const late = renewalLatenessMs(ios, 2.5).map((ms) => Math.round(ms));
  t.same(late, [0, 10, 40, 1000]);
  t.same(renewalLatenessMs([], 2.5), []);
});
