// Lockspace events through the typed client: two daemons (host 1 and host 2)
// share one lockspace file; host 2 sets an event for host 1, and host 1's
// event channel receives it (wire.md §8.4). Also LVB, request and killpath
// on one daemon. Runs against the real sanlock and against ours; every
// call must succeed on both (an error is a failure, never a skip).
import t from "tap";
import { ClientArgumentError, REQ_GRACEFUL, SETEV_CUR_GENERATION, SanlockClient, type SanlockError } from "../packages/client/src/index.js";
import { type DaemonKind, daemonSkipReason, retrying, sparseFile, startDaemon } from "./support/index.js";

const LS = "EVS";
const IO_TIMEOUT = 1;
/** Delivery needs the sender's next renewal and the receiver's next check: a few io_timeouts. */
const EVENT_WAIT_MS = 30_000;

for (const kind of ["sanlock", "sanlock-ts"] as DaemonKind[]) {
  await t.test(`events between two ${kind} daemons`, { skip: daemonSkipReason(kind) }, async (t) => {
    const host1 = await startDaemon(t, { kind: kind });
    const host2 = await startDaemon(t, { kind: kind, dir: host1.dir });
    const c1 = new SanlockClient({ runDir: host1.runDir, timeoutMs: 20_000 });
    const c2 = new SanlockClient({ runDir: host2.runDir, timeoutMs: 20_000 });
    const lsPath = sparseFile(host1.dir, "events.lease");
    // Any error here fails the test (−201 SANLK_ERROR from ours is an unexpected exception in the daemon).
    await c1.writeLockspace(LS, lsPath, { iotimeout: IO_TIMEOUT });
    await Promise.all([c1.addLockspace(LS, 1, lsPath, { iotimeout: IO_TIMEOUT }), c2.addLockspace(LS, 2, lsPath, { iotimeout: IO_TIMEOUT })]);
    t.teardown(() => Promise.all([c1.remLockspace(LS, 1, lsPath).catch(() => undefined), c2.remLockspace(LS, 2, lsPath).catch(() => undefined)]));

    // Both directions: host 2 fills SETEV_CUR_GENERATION below from what it has seen of host 1.
    await t.test("each host sees the other", async (t) => {
      for (const [client, other] of [
        [c1, 2],
        [c2, 1],
      ] as const) {
        const hosts = await retrying(
          async () => {
            const list = await client.getHosts(LS);
            if (list.length < 2) throw Object.assign(new Error(`host ${other} not seen yet`), { errno: 11 });
            return list;
          },
          [11],
          60,
          500,
        );
        t.same(hosts.map((h) => h.hostId).sort(), [1n, 2n], `host ${3 - other} sees both hosts`);
      }
    });

    await t.test("an event set on host 2 arrives on host 1's channel", async (t) => {
      const channel = await c1.regEvent(LS);
      t.teardown(() => channel[Symbol.asyncDispose]());
      t.same(c1.getEvent(channel), [], "nothing before the event is set");
      await c2.setEvent(LS, 1, 0, 7, { data: 0x1234, flags: SETEV_CUR_GENERATION });
      const events = await channel.next({ timeoutMs: EVENT_WAIT_MS });
      const e = events[0];
      t.equal(e?.event, 7n);
      t.equal(e?.data, 0x1234n);
      t.equal(e?.hostId, 1n, "addressed to host 1");
      t.equal(e?.fromHostId, 2n, "sent by host 2");
      t.ok((e?.generation ?? 0n) >= 1n, "SETEV_CUR_GENERATION filled in host 1's generation");
      await c1.endEvent(channel, LS);
      t.equal(channel.isOpen, false, "the channel is closed after end_event");
    });

    await t.test("set_event for a host_id above the lockspace's hosts is refused", async (t) => {
      const err = await c2.setEvent(LS, 2001, 0, 1).then(
        () => null,
        (e: unknown) => e,
      );
      t.ok(err instanceof ClientArgumentError, "host_id 2001 is refused before sending");
    });
  });

  await t.test(`lvb, request and killpath on ${kind}`, { skip: daemonSkipReason(kind) }, async (t) => {
    const d = await startDaemon(t, { kind: kind });
    const client = new SanlockClient({ runDir: d.runDir, timeoutMs: 20_000 });
    const lsPath = sparseFile(d.dir, "ls.lease");
    const resPath = sparseFile(d.dir, "res.lease");
    await client.writeLockspace(LS, lsPath, { iotimeout: IO_TIMEOUT });
    await client.writeResource(LS, "RL", [[resPath, 0]]);
    await client.addLockspace(LS, 1, lsPath, { iotimeout: IO_TIMEOUT });
    t.teardown(() => client.remLockspace(LS, 1, lsPath).catch(() => undefined));

    await t.test("an LVB written while held is read back by the next holder", async (t) => {
      const value = new TextEncoder().encode("hello lvb");
      {
        await using reg = await client.register();
        await using _lease = await client.acquire(LS, "RL", [[resPath, 0]], { registration: reg, lvb: true });
        await client.setLvb(LS, "RL", [[resPath, 0]], value);
      }
      await using reg = await client.register();
      await using _lease = await client.acquire(LS, "RL", [[resPath, 0]], { registration: reg, lvb: true });
      const got = await client.getLvb(LS, "RL", [[resPath, 0]], value.byteLength);
      t.same(Array.from(got), Array.from(value));
    });

    await t.test("set_lvb on a lease held without ACQUIRE_LVB fails with EINVAL", async (t) => {
      await using reg = await client.register();
      await using _lease = await client.acquire(LS, "RL", [[resPath, 0]], { registration: reg });
      const err = await client.setLvb(LS, "RL", [[resPath, 0]], new Uint8Array(8)).then(
        () => null,
        (e: unknown) => e,
      );
      t.equal((err as SanlockError).errno, 22);
    });

    await t.test("request for an older version than the lease's fails with SANLK_REQUEST_OLD", async (t) => {
      await using reg = await client.register();
      await using _lease = await client.acquire(LS, "RL", [[resPath, 0]], { registration: reg });
      const err = await client.request(LS, "RL", [[resPath, 0]], { action: REQ_GRACEFUL, version: 1 }).then(
        () => null,
        (e: unknown) => e,
      );
      t.equal((err as SanlockError).errno, -272);
      t.equal((err as SanlockError).sanlockName, "SANLK_REQUEST_OLD");
    });

    await t.test("killpath is accepted on the registered connection; too long a path is refused locally", async (t) => {
      await using reg = await client.register();
      await client.killpath("/bin/true", ["a b", "c\\d"], { registration: reg });
      const err = await client.killpath(`/${"x".repeat(130)}`, [], { registration: reg }).then(
        () => null,
        (e: unknown) => e,
      );
      t.ok(err instanceof ClientArgumentError);
      t.ok(reg.isOpen, "the registration stays usable");
    });

    await t.test("get_alignment of a regular file is 1 MiB", async (t) => {
      t.equal(await client.getAlignment(resPath), 1048576);
    });
  });
}
