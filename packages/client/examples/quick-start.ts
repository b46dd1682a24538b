import { SanlockClient, SanlockError } from "@sanlock-ts/client";

// The daemon's socket is $SANLOCK_RUN_DIR/sanlock.sock (default /run/sanlock).
const client = new SanlockClient();

// Shared storage every host can reach: a lockspace area and a resource lease (1 MiB each with
// 512-byte sectors). The files must exist; `truncate -s 1M` makes them.
const dir = process.env.LEASE_DIR ?? "/var/lib/leases";
const lockspaceDisk = `${dir}/lockspace`;
const vm1Disk = { path: `${dir}/vm1.lease`, offset: 0 };

// Once, from any one host: format both areas.
await client.writeLockspace("demo", lockspaceDisk);
await client.writeResource("demo", "vm1", [vm1Disk]);

// On every host: join the lockspace with the host's own host_id (1..2000).
// This takes a few io_timeouts (about 20 s with the default of 10 s).
await client.addLockspace("demo", 1, lockspaceDisk);

// The process that writes the shared data registers and holds the lease itself; the daemon
// releases its leases when this connection closes, even if the process dies.
{
  await using registration = await client.register();
  try {
    await using lease = await client.acquire("demo", "vm1", [vm1Disk], { registration });
    console.log(`holding ${lease.lockspace}:${lease.resource}`);
    // ... write to the volume vm1 guards ...
  } catch (error) {
    // Another live host holds vm1: SANLK_ACQUIRE_IDLIVE (-243).
    if (!(error instanceof SanlockError)) throw error;
    console.log(`vm1 not acquired: ${error.sanlockName} ${error.reason}`);
  }
} // the lease is released, then the registration closed

await client.remLockspace("demo", 1, lockspaceDisk);
