// An appliance whose one Node process is also this host's lease manager: it starts the
// sanlock-ts daemon inside itself, joins the lockspace, holds the lease of the volume it
// serves, and stops serving the moment the lease is lost.
//
//   LEASE_DIR=/var/lib/leases HOST_ID=1 node appliance.mjs
//
// LEASE_DIR holds `lockspace` and `vm1.lease` (1 MiB each, formatted once with
// `sanlock-ts client init` or `init=1` below). SANLOCK_RUN_DIR set: the socket is served there, so
// `sanlock client status` and python3-sanlock on this host see the appliance's daemon.
import { startEmbeddedDaemon } from "@sanlock-ts/daemon/embedded";
import { SanlockClient } from "@sanlock-ts/client";

const dir = process.env.LEASE_DIR ?? "/var/lib/leases";
const hostId = Number(process.env.HOST_ID ?? "1");
const ioTimeout = Number(process.env.IO_TIMEOUT ?? "10");
const lockspaceDisk = `${dir}/lockspace`;
const vm1 = [{ path: `${dir}/vm1.lease`, offset: 0 }];

const daemon = await startEmbeddedDaemon({
  client: SanlockClient,
  watchdog: process.env.WATCHDOG === "none" ? "none" : "device", // "none" only for tests
  ...(process.env.SANLOCK_RUN_DIR ? { runDir: process.env.SANLOCK_RUN_DIR, socket: "shared" } : {}),
  log: (line) => process.stderr.write(`${line}\n`),
});
const { client } = daemon;
try {

  if (process.env.INIT === "1") {
    await client.writeLockspace("demo", lockspaceDisk, { iotimeout: ioTimeout });
    await client.writeResource("demo", "vm1", vm1);
  }
  await client.addLockspace("demo", hostId, lockspaceDisk, { iotimeout: ioTimeout });
  console.log(`joined demo as host ${hostId}`);

  // The lease belongs to this process: the registration is this process's connection.
  const registration = await client.register();
  const lease = await client.acquire("demo", "vm1", vm1, { registration });
  const lost = daemon.leaseSignal(lease);
  console.log("holding demo:vm1");

  // Serve until told to stop, or until the lease is lost.
  const stop = new AbortController();
  process.once("SIGTERM", () => stop.abort());
  process.once("SIGINT", () => stop.abort());
  const work = setInterval(() => {
    /* ... write to the volume vm1 guards ... */
  }, 1000);
  await new Promise((resolve) => {
    stop.signal.addEventListener("abort", resolve, { once: true });
    lost.addEventListener("abort", resolve, { once: true });
  });
  clearInterval(work); // no write after this point
  if (lost.aborted) console.log(`lease lost: ${lost.reason.message}`);

  await lease.release();
  await registration.close();
  if (!lost.aborted) await client.remLockspace("demo", hostId, lockspaceDisk);
  console.log("stopped");
} finally {
  await daemon.close(); // leaves every lockspace, closes the socket (TypeScript: `await using`)
}
