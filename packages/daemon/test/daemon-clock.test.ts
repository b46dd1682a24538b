// The daemon clock's I/O deadline (daemon-clock.ts startTimer) against a blocked event loop: an
// I/O that completed in time must not be reported as timed out because the loop looked at the
// expired timer before the completion. Before the fix, 64 lockspaces joined at once on a loaded
// 2-CPU machine failed 1-2 joins every run with "renewal read did not complete within 1 s".
import t from "tap";
import { open } from "node:fs/promises";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { boundedIo } from "../../core/src/lease-io.js";
import { DAEMON_CLOCK } from "../src/daemon-clock.js";

const dir = mkdtempSync(join(process.env["SANLOCK_TS_TEST_DIR"] ?? "/var/tmp", "clock-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, "data");
writeFileSync(file, "sector");

/** Keeps this thread busy (no timers, no I/O callbacks) for `ms`. */
function blockLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
}

t.test("an I/O that completed while the loop was blocked past its deadline counts as done", async (t) => {
  const fh = await open(file, "r");
  try {
    for (let i = 0; i < 3; i++) {
      const read = fh.read(Buffer.alloc(6), 0, 6, 0).then((r) => r.bytesRead);
      const bounded = boundedIo(DAEMON_CLOCK, 0.2, read, "test read", "LEADER_READ");
      blockLoop(500); // the read finishes in the thread pool meanwhile; the 0.2 s timer expires too
      t.equal(await bounded, 6, `run ${i + 1}: the completed read wins over the expired timer`);
    }
  } finally {
    await fh.close();
  }
});

t.test("an I/O that is still running at the deadline times out", async (t) => {
  const never = new Promise<number>(() => undefined);
  const started = Date.now();
  await t.rejects(boundedIo(DAEMON_CLOCK, 0.2, never, "test read", "LEADER_READ"), { code: "ERR_SANLK_AIO_TIMEOUT" });
  t.ok(Date.now() - started >= 190, "not before the deadline");
});

t.test("a cancelled timer never fires", async (t) => {
  let fired = false;
  const timer = DAEMON_CLOCK.startTimer(0.05, () => {
    fired = true;
  });
  timer.cancel();
  await new Promise((r) => setTimeout(r, 150));
  t.notOk(fired);
});
