import { spawn } from "node:child_process";
import { type DomainDescription, SanlockLockDriver, processPause, processResume, supervisorCommand, waitRegistered } from "@sanlock-ts/client/lockmanager";

// The same file libvirt reads on a libvirt host: auto_disk_leases = 1, disk_lease_dir, host_id.
const configFile = process.env.LOCKMGR_CONFIG ?? "/etc/libvirt/qemu-sanlock.conf";
// Once per process: creates and joins __LIBVIRT__DISKS__ (a few io_timeouts the first time).
const driver = await SanlockLockDriver.init({ configFile });

// A workload with one disk. Its lease is named after the MD5 of the disk path, as libvirt names it,
// so a libvirt host using the same disk_lease_dir contends for the very same lease.
const vm: DomainDescription = {
  params: { uuid: "0f8fad5b-d9cb-469f-a165-70867728950e", name: "vm1", pid: 0 },
  disks: [{ path: process.env.VM_DISK ?? "/var/lib/images/vm1.img", type: "file" }],
  onLockFailure: "poweroff",
};

// Start the program through `sanlock-ts lockmgr exec`: it registers (the program's own pid holds
// the lease, as QEMU does under libvirt) and execs the program; `paused` = register only.
const argv = supervisorCommand(vm, ["/bin/sleep", "3600"], { cli: [process.env.SANLOCK_TS ?? "sanlock-ts"], configFile, paused: true });
const child = spawn(argv[0] as string, argv.slice(1), { stdio: "inherit" });
const exited = new Promise((resolve) => child.once("exit", resolve));
await waitRegistered(driver, child.pid as number, { timeoutMs: 30_000, exited });
vm.params.pid = child.pid as number;

try {
  await processResume(driver, vm, null); // acquire: fails with "Failed to acquire lock: ..." if another host runs it
  console.log("vm1 runs with its disk lease");
  const state = await processPause(driver, vm); // release, keeping the state (what a migration carries)
  console.log(`paused, state ${state}`);
  await processResume(driver, vm, state);
  console.log("resumed");
} finally {
  child.kill("SIGKILL"); // its registration closes with it: the daemon frees the lease
  await exited;
}
