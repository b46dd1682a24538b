// A test appliance for packages/daemon/test/embedded-*.test.ts, run as its own process on the
// built dist/: it starts startEmbeddedDaemon with a shared socket in SANLOCK_RUN_DIR, joins,
// acquires, then does what MODE says, and prints one JSON line per event on stdout with the
// monotonic time (seconds, the clock of delta-record timestamps).
//   MODE=busy     block the main thread for BUSY_SECONDS, then report and wait to be stopped
//   MODE=ignore   hold the lease and ignore its AbortSignal (never release)
//   MODE=release  release the lease as soon as its AbortSignal fires
// Environment: SANLOCK_RUN_DIR, LOCKSPACE, RESOURCE (paths), IO_TIMEOUT, KILL_GRACE.
import { startEmbeddedDaemon } from "@sanlock-ts/daemon/embedded";
import { SanlockClient } from "@sanlock-ts/client";
import { writeSync } from "node:fs";

const now = () => Number(process.hrtime.bigint()) / 1e9;
const emit = (event, extra = {}) => writeSync(1, `${JSON.stringify({ event, at: now(), ...extra })}\n`);
const env = (name) => {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set`);
  return value;
};

const ioTimeout = Number(env("IO_TIMEOUT"));
const daemon = await startEmbeddedDaemon({
  client: SanlockClient,
  runDir: env("SANLOCK_RUN_DIR"),
  socket: "shared",
  watchdog: "none",
  settings: { killGraceSeconds: Number(process.env.KILL_GRACE ?? "40"), socketUser: "root", socketGroup: "root" },
  log: (line) => writeSync(2, `${line}\n`),
});
const { client } = daemon;
daemon.on("lockspace-failed", (loss) => emit("lockspace-failed", { reason: loss.reason, lastRenewal: loss.lastRenewal }));
await client.writeLockspace("LS", env("LOCKSPACE"), { iotimeout: ioTimeout });
const disks = [{ path: env("RESOURCE"), offset: 0 }];
await client.writeResource("LS", "R", disks);
await client.addLockspace("LS", 1, env("LOCKSPACE"), { iotimeout: ioTimeout });
const registration = await client.register();
const lease = await client.acquire("LS", "R", disks, { registration });
const signal = daemon.leaseSignal(lease);
const mode = env("MODE");
let released = false;
signal.addEventListener("abort", async () => {
  emit("lease-signal", { reason: signal.reason?.message });
  if (mode !== "release") return;
  // What an appliance should do: stop using the lease at once, then give it back.
  released = true;
  const result = await lease.release().then(
    () => 0,
    (error) => error.result ?? -1,
  );
  await registration.close();
  emit("released", { result });
});
emit("acquired", { pid: process.pid });

if (mode === "busy") {
  const seconds = Number(env("BUSY_SECONDS"));
  const start = now();
  emit("busy-start");
  while (now() - start < seconds) {
    // The application's main thread does not yield: no timer, no socket, no message runs here.
  }
  emit("busy-end");
}
process.once("SIGTERM", async () => {
  if (!released) {
    await lease.release();
    await registration.close();
  }
  await daemon.close();
  emit("closed");
});
