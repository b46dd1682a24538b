/**
 * Host events between a sanlock-ts daemon and the real sanlock 3.8.5 daemon (wire.md §8.4):
 * an event set on one host is delivered through the delta lease to the event channel
 * registered on the other, in both directions, with the sender's host_id and generation.
 */
import { join } from "node:path";
import t from "tap";
import { environmentSkip, HAVE_REAL_SANLOCK, python, spawnPython, startDaemon, startInProcessDaemon, tempLeaseDir, waitForLine } from "./support/index.js";
import type { Test } from "tap";

const LS = "EVENTS";
const MB = 1048576;

/** Registers an event channel, prints "registered", then prints each event for up to 20 s. */
const RECEIVER = `
import time, sanlock
fd = sanlock.reg_event(b"${LS}")
print("registered", flush=True)
deadline = time.time() + 20
while time.time() < deadline:
    for ev in sanlock.get_event(fd):
        print("event from", ev["from_host_id"], "gen", ev["from_generation"], "to", ev["host_id"],
              "event", ev["event"], "data", ev["data"], flush=True)
        deadline = 0
    time.sleep(0.2)
sanlock.end_event(fd, b"${LS}")
print("ended", flush=True)
`;

async function joinAll(t: Test, lsFile: string, daemons: [string, number][]): Promise<void> {
  const joins = await Promise.all(
    daemons.map(([dir, id]) =>
      python(
        dir,
        `
import sanlock
sanlock.add_lockspace(b"${LS}", ${id}, "${lsFile}", iotimeout=1)
print("joined")
`,
      ),
    ),
  );
  t.same(
    joins.map((r) => r.stdout.trim()),
    daemons.map(() => "joined"),
    "both hosts joined",
  );
}

async function generationOf(dir: string, hostId: number): Promise<string> {
  const run = await python(
    dir,
    `
import sanlock
print([h["generation"] for h in sanlock.get_hosts(b"${LS}", ${hostId})][0])
`,
  );
  return run.stdout.trim();
}

t.test(
  "events travel between sanlock-ts and real sanlock in both directions",
  { skip: environmentSkip(!HAVE_REAL_SANLOCK && "sanlock not installed"), timeout: 110_000 },
  async (t) => {
    const work = tempLeaseDir(t, "slts-events-");
    const lsFile = join(work, "ls.lease");
    const ours = await startInProcessDaemon(t, "events-ours");
    const real = (await startDaemon(t, { kind: "sanlock" })).runDir;
    const init = await python(
      ours.runDir,
      `
import sanlock
open("${lsFile}", "wb").truncate(${MB})
sanlock.write_lockspace(b"${LS}", "${lsFile}", iotimeout=1)
print("ok")
`,
    );
    t.equal(init.stdout.trim(), "ok");
    await joinAll(t, lsFile, [
      [ours.runDir, 1],
      [real, 2],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // both watchers have seen each other

    // real (host 2) → ours (host 1)
    const atOurs = spawnPython(t, ours.runDir, RECEIVER);
    await waitForLine(atOurs, "registered");
    const realGen = await generationOf(real, 2);
    const sent = await python(
      real,
      `
import sanlock
sanlock.set_event(b"${LS}", 1, 0, 7, data=42, flags=sanlock.SETEV_CUR_GENERATION)
print("set")
`,
    );
    t.equal(sent.stdout.trim(), "set", `real daemon set the event: ${sent.stderr}`);
    const line = await waitForLine(atOurs, "event ", 20_000);
    t.equal(line, `event from 2 gen ${realGen} to 1 event 7 data 42`, "sanlock-ts delivered the real host's event");

    // ours (host 1) → real (host 2)
    const atReal = spawnPython(t, real, RECEIVER);
    await waitForLine(atReal, "registered");
    const ourGen = await generationOf(ours.runDir, 1);
    const sent2 = await python(
      ours.runDir,
      `
import sanlock
sanlock.set_event(b"${LS}", 2, 0, 9, data=5, flags=sanlock.SETEV_CUR_GENERATION)
print("set")
`,
    );
    t.equal(sent2.stdout.trim(), "set", `sanlock-ts set the event: ${sent2.stderr}`);
    const line2 = await waitForLine(atReal, "event ", 20_000);
    t.equal(line2, `event from 1 gen ${ourGen} to 2 event 9 data 5`, "the real daemon received sanlock-ts's event");
    t.equal(await waitForLine(atOurs, "ended"), "ended", "end_event accepted by sanlock-ts");
  },
);
