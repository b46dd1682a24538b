/**
 * Two sanlock-ts daemons (processes) sharing one DLM volume, formatted by our CLI, for the DLM
 * tests across hosts; io_timeout 1, so a dead host's locks wait 8·1 + 60 = 68 s.
 */
import type { Test } from "tap";
import { DlmClient, type Lockspace, type RecoveryCallbacks } from "../../packages/client/src/dlm/index.js";
import { startDaemon, type TestDaemon } from "./daemons.js";
import { OUR_CLI } from "./env.js";
import { sparseFile, tempLeaseDir } from "./files.js";
import { runClient } from "./in-process-daemon.js";

export interface TwoDlmHosts {
  readonly dir: string;
  readonly volume: string;
  readonly hosts: readonly [TestDaemon, TestDaemon];
}

export async function dlmVolumeWithTwoHosts(t: Test, options: { ioTimeout: number; pollMs: number }): Promise<TwoDlmHosts> {
  const dir = tempLeaseDir(t, "dlm-hosts-");
  const volume = sparseFile(dir, "dlm.vol", 64 << 20);
  const hosts = [
    await startDaemon(t, { kind: "sanlock-ts", dir, label: "host 1" }),
    await startDaemon(t, { kind: "sanlock-ts", dir, label: "host 2" }),
  ] as const;
  const args = ["dlm", "format", volume, "-s", "vg1", "-o", String(options.ioTimeout), "--num-hosts", "8", "--poll-ms", String(options.pollMs)];
  const format = await runClient(hosts[0].runDir, process.execPath, [OUR_CLI, ...args]);
  if (format.code !== 0) throw new Error(`dlm format: ${format.stdout}${format.stderr}`);
  return { dir, volume, hosts };
}

/** One DlmClient per host (closed in teardown) and lockspace vg1 created on each, host_id 1 and 2. */
export async function joinBoth(t: Test, setup: TwoDlmHosts, recovery2?: RecoveryCallbacks) {
  const clients = [await DlmClient.connect({ runDir: setup.hosts[0].runDir }), await DlmClient.connect({ runDir: setup.hosts[1].runDir })] as const;
  t.teardown(async () => {
    for (const c of clients) await c.close();
  });
  const spaces: [Lockspace, Lockspace] = [
    await clients[0].createLockspace("vg1", { hostId: 1, disk: { path: setup.volume } }),
    await clients[1].createLockspace("vg1", { hostId: 2, disk: { path: setup.volume }, ...(recovery2 ? { recovery: recovery2 } : {}) }),
  ];
  return { clients, spaces };
}
