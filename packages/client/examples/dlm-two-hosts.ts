// Two hosts share a PR/EX lock with a value block on one DLM volume. Each DlmClient talks to its
// own host's daemon; run dirs and the volume (formatted with `sanlock-ts dlm format`) from the
// environment.
import { DlmClient } from "@sanlock-ts/client/dlm";

const disk = { path: process.env.DLM_VOLUME ?? "/var/lib/leases/dlm.vol" };
await using host1 = await DlmClient.connect({ runDir: process.env.HOST1_RUN_DIR });
await using host2 = await DlmClient.connect({ runDir: process.env.HOST2_RUN_DIR });
const ls1 = await host1.createLockspace("vg1", { hostId: 1, disk });
const ls2 = await host2.createLockspace("vg1", { hostId: 2, disk });

// Host 1 writes the value under EX and keeps a PR; the value is written by the conversion.
const writer = await ls1.lock("lv7", "EX", {
  valueBlock: true,
  onBlocking: (mode) => {
    console.log(`host 1: another host waits for ${mode}`);
    void writer.unlock();
  },
});
writer.setLvb(new TextEncoder().encode("generation 42"));
await writer.convert("PR");

// Host 2 reads it under PR at once (PR is compatible with PR), then asks for EX: host 1 gets
// a blocking callback at its next look at the disk, unlocks, and host 2's conversion completes.
const reader = await ls2.lock("lv7", "PR", { valueBlock: true });
console.log(`host 2 read "${new TextDecoder().decode(reader.lvb).replace(/\0+$/, "")}"`);
await reader.convert("EX");
console.log(`host 2 holds ${reader.mode}`);
await reader.unlock();
await ls1.release();
await ls2.release();
