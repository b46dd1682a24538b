// The lock manager's pieces that need no daemon (docs/lockmanager.md): lease names, the
// configuration file, resource checks with libvirt's messages, state strings, the migration
// cookie and the KILLPATH arguments. Numbers refer to the scenarios of docs/lockmanager.md §10.
import t from "tap";
import { execFileSync } from "node:child_process";
import {
  LockManagerErrorCode,
  SanlockLockDriver,
  diskLeaseName,
  formatLockstateCookie,
  killpathFor,
  parseLockConfig,
  parseLockState,
  parseLockstateCookie,
  supervisorCommand,
} from "../src/lockmanager/index.js";
import { ResFlag } from "../../core/src/wire/index.js";

const LEASE_XML_UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809";
/** A socket nobody listens on: none of these tests may reach a daemon. */
const NO_DAEMON = "/nonexistent/sanlock.sock";

async function driverWith(config: Record<string, unknown>): Promise<SanlockLockDriver> {
  return SanlockLockDriver.init({ socketPath: NO_DAEMON, setupLockspace: false, config });
}

t.test("1: disk lease names are the MD5 of the path's bytes, lowercase hex", async (t) => {
  t.equal(diskLeaseName("/var/lib/libvirt/images/demo.img"), "bfa0240911bc17753e0b473688822159", "libvirt's documented example");
  t.equal(diskLeaseName("/dev/HostVG/QEMUGuest1"), "fa6a6e2a621de9be385a99d31df076eb");
  t.equal(diskLeaseName("/var/lib/libvirt/images/a b:c.img"), "3c721cf36f4df2921e07ca16a6767d32");
  const nonAscii = "/var/lib/libvirt/images/système-ü.img";
  const md5sum = execFileSync("md5sum", { input: Buffer.from(nonAscii, "utf8") })
    .toString()
    .split(" ")[0];
  t.equal(diskLeaseName(nonAscii), md5sum, "UTF-8 bytes, as printf %s PATH | md5sum");
});

t.test("3-5: resources are checked as the plugin checks them", async (t) => {
  const auto = await driverWith({ autoDiskLeases: true, hostId: 1, diskLeaseDir: "/nonexistent" });
  const m = await auto.newManager("domain", { uuid: LEASE_XML_UUID, name: "QEMUGuest1", pid: 1234 }, { started: true });
  await t.rejects(m.addResource("disk", "/dev/HostVG/QEMUGuest1", { path: "/x" }), {
    code: LockManagerErrorCode.DISK_PARAMS,
    message: "Unexpected lock parameters for disk resource",
  });
  const plain = await driverWith({});
  const full = await plain.newManager("domain", { uuid: LEASE_XML_UUID, name: "g", pid: 1234 }, { started: true });
  for (let i = 0; i < 8; i++) await full.addResource("lease", `key${i}`, { path: "/some/lease/path", offset: 1024, lockspace: "somearea" });
  await t.rejects(full.addResource("lease", "key8", { path: "/p", lockspace: "somearea" }), {
    code: LockManagerErrorCode.TOO_MANY_RESOURCES,
    message: "Too many resources 8 for object",
  });
  await t.rejects(
    full.addResource("disk", "/cdrom.iso", undefined, { readonly: true }),
    { code: LockManagerErrorCode.TOO_MANY_RESOURCES },
    "even a read-only one (Q6)",
  );

  const names = await plain.newManager("domain", { uuid: LEASE_XML_UUID, name: "g", pid: 1234 }, { started: true });
  await names.addResource("lease", "k".repeat(47), { path: "/p", lockspace: "ls" });
  await t.rejects(names.addResource("lease", "k".repeat(48), { path: "/p", lockspace: "ls" }), {
    code: LockManagerErrorCode.NAME_TOO_LONG,
    message: `Resource name '${"k".repeat(48)}' exceeds 48 characters`,
  });
  await t.rejects(names.addResource("lease", "k", { path: "/p", lockspace: "l".repeat(48) }), { code: LockManagerErrorCode.NAME_TOO_LONG });
  await names.addResource("lease", "k2", { path: `/${"p".repeat(1022)}`, lockspace: "ls" });
  await t.rejects(names.addResource("lease", "k3", { path: `/${"p".repeat(1023)}`, lockspace: "ls" }), { code: LockManagerErrorCode.NAME_TOO_LONG });
  // 991 + "/" + 32 = 1024 bytes do not fit sanlock's 1024-byte path with its NUL (990 bytes would: 1023).
  const longDir = await driverWith({ autoDiskLeases: true, hostId: 1, diskLeaseDir: `/${"d".repeat(990)}` });
  const md = await longDir.newManager("domain", { uuid: LEASE_XML_UUID, name: "g", pid: 1234 }, { started: true });
  await t.rejects(md.addResource("disk", "/disk"), { code: LockManagerErrorCode.NAME_TOO_LONG, message: /^Lease path '.*' exceeds 1024 characters$/ });
  await t.rejects(names.addResource("lease", "k4", { path: "/p" }, { exclusive: true } as never), { code: LockManagerErrorCode.INVALID_FLAGS });
  await t.rejects(plain.newManager("vm" as "domain", { uuid: LEASE_XML_UUID, name: "g", pid: 1 }), { code: LockManagerErrorCode.UNSUPPORTED_TYPE });
});

t.test("2: lease.xml's resources: leases first, then writable disks; the cdrom adds nothing", async (t) => {
  const plain = await driverWith({});
  const m = await plain.newManager("domain", { uuid: LEASE_XML_UUID, name: "QEMUGuest1", pid: 1234 }, { started: true });
  await m.addResource("lease", "thequickbrownfoxjumpedoverthelazydog", { path: "/some/lease/path", offset: 1024, lockspace: "somearea" });
  await m.addResource("disk", "/root/boot.iso", undefined, { readonly: true });
  await m.addResource("disk", "/dev/HostVG/QEMUGuest1");
  t.same(
    m.resources.map((r) => [r.lockspace, r.resource, r.disks[0]?.path, r.disks[0]?.offset]),
    [["somearea", "thequickbrownfoxjumpedoverthelazydog", "/some/lease/path", 1024n]],
    "without auto_disk_leases a disk records nothing",
  );
});

t.test("6-7: the configuration file, with virConf's types", async (t) => {
  const sample = [
    "auto_disk_leases = 1",
    'disk_lease_dir = "/var/lib/libvirt/sanlock"',
    "host_id = 1",
    "require_lease_for_disks = 1",
    "io_timeout = 0",
    'user = "root"',
    'group = "root"',
  ].join("\n");
  t.same(parseLockConfig(sample), {
    autoDiskLeases: true,
    diskLeaseDir: "/var/lib/libvirt/sanlock",
    hostId: 1,
    requireLeaseForDisks: true,
    ioTimeout: 0,
    user: "root",
    group: "root",
  });
  t.throws(() => parseLockConfig("auto_disk_leases = 2"), {
    code: LockManagerErrorCode.CONFIG,
    message: "value for 'auto_disk_leases' parameter must be 0 or 1",
  });
  t.throws(() => parseLockConfig('auto_disk_leases = "1"', "qemu-sanlock.conf"), {
    message: "qemu-sanlock.conf: expected a bool for 'auto_disk_leases' parameter",
  });
  t.throws(() => parseLockConfig('host_id = "1"'), { code: LockManagerErrorCode.CONFIG });
  await t.rejects(driverWith({ autoDiskLeases: true }), {
    code: LockManagerErrorCode.CONFIG,
    message: "Automatic disk lease mode enabled, but no host ID is set",
  });
  t.equal(parseLockConfig("").requireLeaseForDisks, true, "auto 0: leases required");
  t.equal(parseLockConfig("auto_disk_leases = 1\nhost_id = 2").requireLeaseForDisks, false, "auto 1: not required");
  t.equal(parseLockConfig("require_lease_for_disks = 1\nauto_disk_leases = 1\nhost_id = 2").requireLeaseForDisks, true, "explicit value wins, before auto");
  t.equal(parseLockConfig("auto_disk_leases = 0 # comment\nrequire_lease_for_disks = 0").requireLeaseForDisks, false, "explicit value wins, after auto");
  t.equal(parseLockConfig("unknown_key = 5\nlist = [ 1, 2 ]\n").hostId, 0, "unknown keys ignored");
});

t.test("17: read/write exclusive disks without leases are refused when leases are required", async (t) => {
  const required = await driverWith({ requireLeaseForDisks: true });
  const dom = { uuid: LEASE_XML_UUID, name: "g", pid: 1234 };
  const m = await required.newManager("domain", dom, { started: true });
  await m.addResource("disk", "/dev/HostVG/QEMUGuest1");
  await t.rejects(m.acquire(), { code: LockManagerErrorCode.NO_LEASES, virError: "CONFIG_UNSUPPORTED" });
  const shared = await required.newManager("domain", dom, { started: true });
  await shared.addResource("disk", "/dev/HostVG/QEMUGuest1", undefined, { shared: true });
  t.same(await shared.acquire(), { registration: null }, "a shareable disk needs no lease (pid not registered: nothing sent)");
  const notRequired = await driverWith({ requireLeaseForDisks: false });
  const m2 = await notRequired.newManager("domain", dom, { started: true });
  await m2.addResource("disk", "/dev/HostVG/QEMUGuest1");
  t.same(await m2.acquire(), { registration: null });
});

t.test("24: state strings are checked with sanlock_state_to_args' results", async (t) => {
  t.same(parseLockState(""), [], "empty = no state");
  t.same(parseLockState(null), []);
  t.throws(() => parseLockState("ab"), {
    code: LockManagerErrorCode.STATE_PARSE,
    message: "Unable to parse lock state ab: No such device or address",
    virError: "SYSTEM_ERROR",
  });
  t.throws(() => parseLockState("a:b:c"), { message: "Unable to parse lock state a:b:c: Operation not permitted" });
  t.throws(() => parseLockState("LS:R:/a:0:/b:0:/c:0:/d:0:/e:0:1"), { code: LockManagerErrorCode.STATE_PARSE });
  const one = parseLockState("LS:R:/p\\ q:0:7");
  t.same(
    one.map((r) => [r.disks[0]?.path, r.flags, r.version]),
    [["/p q", ResFlag.LVER, 7n]],
  );
  const two = parseLockState("LS:R:/p:0:SH LS:R2:/p:1048576:0x10");
  t.same(
    two.map((r) => [r.resource, r.flags, r.version]),
    [
      ["R", ResFlag.SHARED, 0n],
      ["R2", ResFlag.LVER, 16n],
    ],
  );
});

t.test("28: the migration cookie's lockstate element", async (t) => {
  const state = "__LIBVIRT__DISKS__:bfa0240911bc17753e0b473688822159:/var/lib/libvirt/sanlock/bfa0240911bc17753e0b473688822159:0:1";
  const xml = formatLockstateCookie(state);
  t.equal(xml, `<lockstate driver='sanlock'>\n  <leases>${state}</leases>\n</lockstate>\n`);
  t.same(parseLockstateCookie(xml), { driver: "sanlock", state });
  t.throws(() => parseLockstateCookie("<lockstate driver='lockd'><leases>x</leases></lockstate>"), {
    message: "Source host lock driver lockd different from target sanlock",
  });
  t.throws(() => parseLockstateCookie("<lockstate><leases>x</leases></lockstate>"), { message: "Missing lock driver name in migration cookie" });
  t.same(parseLockstateCookie("<lockstate driver='sanlock'><leases/></lockstate>").state, null, "no <leases> text: no state");
  t.same(parseLockstateCookie("<lockstate driver='sanlock'><leases></leases></lockstate>").state, null, "empty <leases>: no state");
});

t.test("30-32: KILLPATH arguments of the failure actions", async (t) => {
  const helper = { path: "/usr/lib/libvirt/libvirt_sanlock_helper" };
  t.same(killpathFor(helper, "qemu:///system", LEASE_XML_UUID, "pause"), {
    path: "/usr/lib/libvirt/libvirt_sanlock_helper",
    args: `qemu:///system ${LEASE_XML_UUID} pause`,
    argv: ["qemu:///system", LEASE_XML_UUID, "pause"],
    appendPid: false,
  });
  t.equal(killpathFor(helper, "test:///a b\\c", LEASE_XML_UUID, "poweroff").args, `test:///a\\ b\\\\c ${LEASE_XML_UUID} poweroff`);
  const uri126 = `qemu:///${"x".repeat(126 - 8 - 1 - 36 - 1 - 5)}`;
  t.equal(killpathFor(helper, uri126, LEASE_XML_UUID, "pause").args.length, 126, "126 bytes pass");
  t.throws(() => killpathFor(helper, `${uri126}x`, LEASE_XML_UUID, "pause"), { code: LockManagerErrorCode.KILLPATH_TOO_LONG }, "127 bytes refused (Q5)");
  t.throws(() => killpathFor({ path: `/${"h".repeat(127)}` }, "qemu:///system", LEASE_XML_UUID, "pause"), {
    code: LockManagerErrorCode.KILLPATH_TOO_LONG,
    message: /^Sanlock helper path is longer than 126/,
  });
  for (const action of ["restart", "ignore"] as const) {
    t.throws(() => killpathFor(helper, "qemu:///system", LEASE_XML_UUID, action), {
      code: LockManagerErrorCode.UNSUPPORTED_ACTION,
      virError: "CONFIG_UNSUPPORTED",
      message: `Failure action ${action} is not supported by sanlock`,
    });
  }
  t.equal(
    killpathFor(helper, "", LEASE_XML_UUID, "poweroff").args,
    `- ${LEASE_XML_UUID} poweroff`,
    "an empty URI travels as '-' (the daemon drops empty words)",
  );
  // 32, second half: the same action in a pid-targeted acquire (resume) is not looked at.
  const d = await driverWith({});
  const m = await d.newManager("domain", { uuid: LEASE_XML_UUID, name: "g", pid: 1234 }, { started: true });
  t.same(await m.acquire({ action: "restart" }), { registration: null });
});

t.test("the supervisor command carries the domain to `sanlock-ts lockmgr exec`", async (t) => {
  const argv = supervisorCommand(
    { params: { uuid: LEASE_XML_UUID, name: "vm1", pid: 1, uri: "sanlock-ts:///" }, disks: [{ path: "/d.img", type: "file" }], onLockFailure: "pause" },
    ["/usr/bin/sleep", "--", "60"],
    { cli: ["sanlock-ts"], configFile: "/etc/x.conf", paused: true },
  );
  t.same(argv.slice(0, 6), ["sanlock-ts", "lockmgr", "exec", "--name", "vm1", "--uuid"]);
  t.same(argv.slice(argv.indexOf("--") + 1), ["/usr/bin/sleep", "--", "60"], "the program's own -- is kept");
  t.ok(argv.includes("--paused"));
});

t.test("calls that can block take an AbortSignal", async (t) => {
  const d = await driverWith({});
  const aborted = AbortSignal.abort();
  await t.rejects(d.newManager("domain", { uuid: LEASE_XML_UUID, name: "g", pid: 1234 }, { signal: aborted }), { code: LockManagerErrorCode.ABORTED });
  const self = await d.newManager("domain", { uuid: LEASE_XML_UUID, name: "g", pid: process.pid }, { started: true });
  await self.addResource("lease", "k", { path: "/p", lockspace: "ls" });
  await t.rejects(self.acquire({ signal: aborted }), { code: LockManagerErrorCode.ABORTED }, "nothing registered");
});

t.test("Q2: a lockspace that cannot be set up leaves init working (libvirt), or fails it (strictInit)", async (t) => {
  const config = { autoDiskLeases: true, hostId: 1, diskLeaseDir: "/nonexistent" };
  const d = await SanlockLockDriver.init({ socketPath: NO_DAEMON, config });
  t.match(d.lockspaceError, {
    code: LockManagerErrorCode.LOCKSPACE_SETUP,
    message: "Unable to create lockspace /nonexistent/__LIBVIRT__DISKS__: parent directory does not exist or is not a directory",
  });
  await t.rejects(SanlockLockDriver.init({ socketPath: NO_DAEMON, config, strictInit: true }), { code: LockManagerErrorCode.LOCKSPACE_SETUP });
});
