// When the watchdog thread dies (src/watchdog/thread.ts): the daemon must not carry on as if
// the watchdog were armed. Node closes the descriptors a worker opened when the worker ends
// (checked here for Node itself), so an open device is closed without the magic 'V' at that
// moment — a last ping on common drivers — and the hardware resets the host 60 s later; the
// reset model, whose timer died with the thread, is fired from the main thread likewise.
// Every later registration fails with ERR_WATCHDOG_THREAD (add_lockspace: SANLK_WD_ERROR)
// and status() reports the failure. A thread that dies with nothing armed resets nothing.
import t from "tap";
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { ThreadedWatchdog, WatchdogError, createWatchdog } from "../src/watchdog/index.js";
import { sleep } from "../../../test/support/index.js";

const FIRE = 60;
const monotonic = (): number => Number(process.hrtime.bigint()) / 1e9;

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** This process's descriptors open on `path`. */
function openFdsOf(path: string): number[] {
  const fds: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`) === path) fds.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return fds;
}

function threadedModel() {
  const resets: number[] = [];
  const logs: string[] = [];
  const watchdog = createWatchdog({ useWatchdog: true, resetModel: { onReset: (at) => resets.push(at) }, log: (line) => logs.push(line) });
  if (!(watchdog instanceof ThreadedWatchdog)) throw new Error("expected a ThreadedWatchdog");
  return { watchdog, resets, logs };
}

t.test("Node closes the files a worker thread opened when the thread ends, writing nothing", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "slts-wd-fd-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "device");
  writeFileSync(path, "");
  const worker = new Worker(
    `const { openSync } = require("node:fs"); require("node:worker_threads").parentPort.postMessage(openSync(${JSON.stringify(path)}, "w"));`,
    { eval: true },
  );
  const fd = await new Promise<number>((resolve) => worker.once("message", resolve));
  t.ok(openFdsOf(path).includes(fd), `the worker holds fd ${fd} on the file`);
  await worker.terminate();
  t.same(openFdsOf(path), [], "closed as the thread ended: a dead watchdog thread leaves no descriptor that a later exit could ping");
  t.equal(readFileSync(path, "latin1"), "", "closed without the magic 'V': an open watchdog keeps counting (a last ping on common drivers)");
});

t.test("the thread dies with the model armed: registrations refused, failure reported, the model fires at its deadline", async (t) => {
  const { watchdog, resets, logs } = threadedModel();
  const lastSuccess = Math.floor(monotonic());
  const connection = watchdog.register("DIE:1", lastSuccess, 10);
  const expire = lastSuccess + 80;
  t.ok(watchdog.status().deviceOpen, "armed: the device is open");

  await watchdog.kill();
  const died = monotonic();
  t.match(
    watchdog.failed,
    /watchdog thread exited .*closed without disarming as the thread ended and nothing keeps it alive: the host will be reset by \d+; new lockspaces are refused/,
  );
  t.match(watchdog.status().failed, /will be reset/);
  t.equal(watchdog.status().deviceOpen, false);
  t.ok(
    logs.some((line) => /watchdog thread exited/.test(line)),
    "logged",
  );
  let error: unknown;
  try {
    watchdog.register("LATE:1", Math.floor(monotonic()), 10);
  } catch (err) {
    error = err;
  }
  t.ok(error instanceof WatchdogError);
  t.equal((error as WatchdogError).code, "ERR_WATCHDOG_THREAD", "a join after the death fails (SANLK_WD_ERROR)");
  connection.renewed(lastSuccess + 20);
  t.pass("renewals of existing lockspaces do not throw (they can no longer postpone the reset)");
  t.same(watchdog.shutdown(), { disarmed: false, expiriesInForce: ["DIE:1"] }, "an exit now cannot disarm");
  const deadline = watchdog.resetModelState().deadline ?? NaN;
  t.ok(deadline > died - 1 + FIRE && deadline <= died + FIRE, "the close at the thread's end was the last ping: due 60 s later");

  await until("the model to fire", () => resets.length > 0, (deadline - monotonic() + 10) * 1000);
  const firedAt = resets[0] ?? NaN;
  t.ok(firedAt >= deadline && firedAt < deadline + 2, `fired ${(firedAt - deadline).toFixed(2)} s after its deadline, from the main thread`);
  t.ok(
    firedAt < expire + FIRE,
    `before expire + 60 (at expire ${(firedAt - expire).toFixed(1)} s): the thread died while every expiry was more than 10 s away`,
  );
  t.equal(watchdog.resetModelState().firedAt, firedAt);
});

t.test("the thread dies before anything was armed: nothing fires, registrations refused", async (t) => {
  const { watchdog, resets } = threadedModel();
  t.ok(watchdog.threadStatus(), "running");
  await watchdog.kill();
  t.match(watchdog.failed, /the device was not in use; new lockspaces are refused/);
  t.throws(() => watchdog.register("X:1", Math.floor(monotonic()), 10), { code: "ERR_WATCHDOG_THREAD" });
  t.same(watchdog.shutdown(), { disarmed: true, expiriesInForce: [] });
  await sleep(500);
  t.same(resets, []);
  t.equal(watchdog.resetModelState().deadline, undefined);
});
