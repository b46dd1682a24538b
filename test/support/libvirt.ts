/**
 * A private libvirtd for the lock-manager reference tests (docs/lockmanager.md §10): Debian's
 * libvirtd with its sanlock plugin, run as root in its own mount namespace where its fixed
 * directories (/etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt,
 * /var/log/libvirt) are bind mounts of a test directory. Its qemu.conf selects the sanlock lock
 * manager, its qemu-sanlock.conf turns on automatic disk leases with the given host_id, and
 * SANLOCK_RUN_DIR points the plugin at the sanlock daemon under test. The machine's own libvirt
 * set-up is never touched. Guests are TCG (no OS, 32 MiB, one raw disk or more).
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { environmentSkip, type FailTarget } from "./env.js";

export interface Teardown {
  teardown(fn: () => unknown): void;
}

const PLUGIN = "/usr/lib/x86_64-linux-gnu/libvirt/lock-driver/sanlock.so";
const START_TIMEOUT_MS = 30_000;
const VIRSH_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const POLL_MS = 100;

function missingPieces(): string | false {
  if (process.getuid?.() !== 0) return "the libvirt reference tests need root (mount namespace, libvirtd)";
  for (const [path, what] of [
    ["/usr/sbin/libvirtd", "libvirtd (libvirt-daemon)"],
    ["/usr/bin/virsh", "virsh (libvirt-clients)"],
    [PLUGIN, "libvirt's sanlock plugin (libvirt-sanlock)"],
    ["/usr/bin/qemu-system-x86_64", "qemu-system-x86"],
    ["/usr/sbin/virt-sanlock-cleanup", "virt-sanlock-cleanup (libvirt-sanlock)"],
    ["/usr/bin/unshare", "unshare (util-linux)"],
    ["/usr/bin/strace", "strace"],
  ] as const) {
    if (!existsSync(path)) return `${what} is not installed (scripts/setup.sh installs it)`;
  }
  if (spawnSync("getent", ["passwd", "libvirt-qemu"]).status !== 0) return "user libvirt-qemu is missing (scripts/setup.sh creates it)";
  return false;
}

/** Why the libvirt tests cannot run here (as tap's `skip`); a failure under REQUIRE_INTEROP=1. */
export function libvirtSkipReason(t?: FailTarget): string | false {
  return environmentSkip(missingPieces(), t);
}

export interface VirshResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface PrivateLibvirtd {
  readonly pid: number;
  readonly uri: string;
  readonly configDir: string;
  virsh(...args: string[]): Promise<VirshResult>;
  /** The pid of a running guest's QEMU. */
  guestPid(name: string): Promise<number>;
  log(): string;
}

export interface LibvirtdOptions {
  /** Parent of the libvirtd directories (removed by its owner). */
  readonly dir: string;
  readonly sanlockRunDir: string;
  readonly hostId: number;
  readonly diskLeaseDir: string;
  readonly ioTimeout: number;
}

/** The directories libvirtd runs with, by their place in its mount namespace. */
const BIND_POINTS = ["/etc/libvirt", "/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt"] as const;

function writeConfig(etc: string, o: LibvirtdOptions): void {
  writeFileSync(join(etc, "libvirtd.conf"), 'listen_tls = 0\nlog_outputs = "3:stderr"\n');
  writeFileSync(
    join(etc, "qemu.conf"),
    [
      'lock_manager = "sanlock"',
      // stdio to plain files (no virtlogd), no cgroups, no private /dev, no security labels: a bare container.
      'stdio_handler = "file"',
      'security_driver = "none"',
      "cgroup_controllers = [ ]",
      "namespaces = [ ]",
      'user = "root"',
      'group = "root"',
      "dynamic_ownership = 0",
      "remember_owner = 0",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(etc, "qemu-sanlock.conf"),
    `auto_disk_leases = 1\ndisk_lease_dir = "${o.diskLeaseDir}"\nhost_id = ${o.hostId}\nio_timeout = ${o.ioTimeout}\n`,
  );
}

/** Starts libvirtd; stopped (guests destroyed first) in teardown. */
export async function startPrivateLibvirtd(t: Teardown, o: LibvirtdOptions): Promise<PrivateLibvirtd> {
  const base = join(o.dir, "libvirt");
  const dirs = BIND_POINTS.map((point) => [point, join(base, point.replaceAll("/", "_"))] as const);
  for (const [, dir] of dirs) mkdirSync(dir, { recursive: true });
  const etc = join(base, "_etc_libvirt");
  const run = join(base, "_run_libvirt");
  writeConfig(etc, o);
  const script = [
    "set -e",
    ...dirs.map(([point, dir]) => `mkdir -p ${point} && mount --bind ${dir} ${point}`),
    `exec /usr/sbin/libvirtd --pid-file ${join(base, "libvirtd.pid")}`,
  ].join("\n");
  const logPath = join(base, "libvirtd.log");
  const logFd = openSync(logPath, "a");
  const child = spawn("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], {
    env: { ...process.env, SANLOCK_RUN_DIR: o.sanlockRunDir },
    stdio: ["ignore", logFd, logFd],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const uri = `qemu+unix:///system?socket=${run}/libvirt-sock`;
  const virsh = (...args: string[]): Promise<VirshResult> =>
    new Promise((resolve) => {
      execFile("virsh", ["-c", uri, ...args], { timeout: VIRSH_TIMEOUT_MS }, (error, stdout, stderr) => {
        resolve({ status: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
      });
    });
  const log = (): string => spawnSync("tail", ["-c", "4000", logPath], { encoding: "utf8" }).stdout;
  t.teardown(async () => {
    const list = await virsh("list", "--name");
    for (const name of list.stdout.split("\n").filter((n) => n.trim() !== "")) await virsh("destroy", name.trim());
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while ((await virsh("version")).status !== 0) {
    if (child.exitCode !== null) throw new Error(`libvirtd exited at start: ${log()}`);
    if (Date.now() > deadline) throw new Error(`libvirtd did not answer within ${START_TIMEOUT_MS} ms: ${log()}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const guestPid = async (name: string): Promise<number> => {
    const { readFileSync } = await import("node:fs");
    return Number(readFileSync(join(run, "qemu", `${name}.pid`), "utf8").trim());
  };
  return { pid: child.pid as number, uri, configDir: etc, virsh, guestPid, log };
}

export interface GuestDisk {
  readonly path: string;
  readonly shareable?: boolean;
}

export interface GuestLease {
  readonly lockspace: string;
  readonly key: string;
  readonly path: string;
}

/** A guest with no OS: TCG, 32 MiB, the given raw disks (virtio) and <lease>s, no network, no display. */
export function guestXml(name: string, uuid: string, disks: readonly GuestDisk[], leases: readonly GuestLease[] = []): string {
  const devices = disks.map(
    (d, i) =>
      `    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n      <source file='${d.path}'/>\n      <target dev='vd${String.fromCharCode(97 + i)}' bus='virtio'/>${d.shareable ? "\n      <shareable/>" : ""}\n    </disk>`,
  );
  return [
    "<domain type='qemu'>",
    `  <name>${name}</name>`,
    `  <uuid>${uuid}</uuid>`,
    "  <memory unit='MiB'>32</memory>",
    "  <vcpu>1</vcpu>",
    "  <os><type arch='x86_64' machine='pc'>hvm</type></os>",
    "  <devices>",
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>",
    ...devices,
    ...leases.map((l) => `    <lease>\n      <lockspace>${l.lockspace}</lockspace>\n      <key>${l.key}</key>\n      <target path='${l.path}'/>\n    </lease>`),
    "    <video><model type='none'/></video>",
    "    <memballoon model='none'/>",
    "  </devices>",
    "</domain>",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------- request capture

/** sanlock's request header magic (docs/wire.md §3). */
const SANLOCK_MAGIC = 0x04282010;
const HEADER_BYTES = 32;
const MAX_CAPTURE_BYTES = 16 * 1024 * 1024;

export interface CapturedRequest {
  /** The sending process (strace) or connection number (proxy). */
  readonly sender: number;
  readonly cmd: number;
  readonly bytes: Buffer;
}

/** Splits what one sender wrote on one descriptor into length-framed sanlock requests. */
export function splitRequests(sender: number, stream: Buffer): CapturedRequest[] {
  const out: CapturedRequest[] = [];
  let at = 0;
  while (at + HEADER_BYTES <= stream.length && stream.readUInt32LE(at) === SANLOCK_MAGIC) {
    const length = stream.readUInt32LE(at + 16);
    if (length < HEADER_BYTES || at + length > stream.length) break;
    out.push({ sender, cmd: stream.readUInt32LE(at + 8), bytes: stream.subarray(at, at + length) });
    at += length;
  }
  return out;
}

export interface RequestTrace {
  /** Stops tracing; the sanlock requests every traced process sent, in order per process and descriptor. */
  stop(): Promise<CapturedRequest[]>;
}

/**
 * Records, with strace, what libvirtd's threads send with send() — the requests libsanlock sends
 * from libvirtd (the registration probe, pid-targeted ACQUIRE, INQUIRE, RELEASE). Forks are not
 * followed: tracing QEMU too makes a TCG guest ten times slower to start; QEMU's child's own
 * requests (REGISTER, RESTRICT) are checked in the daemon's log instead.
 */
export async function traceRequests(t: Teardown, pid: number, file: string): Promise<RequestTrace> {
  const { readdirSync } = await import("node:fs");
  const threads = readdirSync(`/proc/${pid}/task`).flatMap((tid) => ["-p", tid]);
  const child = spawn("strace", ["-qq", "-xx", "-s", "65536", "-e", "trace=sendto", "-o", file, ...threads], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  t.teardown(() => {
    child.kill("SIGINT");
    return exited;
  });
  // strace has attached once the tracee shows a TracerPid.
  const deadline = Date.now() + START_TIMEOUT_MS;
  const { readFileSync } = await import("node:fs");
  while (!/^TracerPid:\s+[1-9]/m.test(readFileSync(`/proc/${pid}/status`, "utf8"))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("strace did not attach");
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return {
    stop: async () => {
      child.kill("SIGINT");
      await exited;
      const streams = new Map<string, Buffer[]>();
      for (const line of readFileSync(file, "utf8").split("\n")) {
        const m = /^(\d+)\s+sendto\((\d+), "((?:\\x[0-9a-f]{2})*)"/.exec(line);
        if (!m) continue;
        const key = `${m[1]} ${m[2]}`;
        const bytes = Buffer.from((m[3] ?? "").replaceAll("\\x", ""), "hex");
        streams.set(key, [...(streams.get(key) ?? []), bytes]);
      }
      const out: CapturedRequest[] = [];
      for (const [key, chunks] of streams) {
        const stream = Buffer.concat(chunks);
        if (stream.length > MAX_CAPTURE_BYTES) continue;
        out.push(...splitRequests(Number(key.split(" ")[0]), stream));
      }
      return out;
    },
  };
}

export interface RecordingProxy {
  readonly socketPath: string;
  /** Every request sent through the proxy so far, per connection, in order. */
  requests(): CapturedRequest[];
}

/** A unix socket that forwards to `upstream` and records what clients send (pid-targeted calls only: the daemon sees the proxy's pid). */
export async function recordingProxy(t: Teardown, socketPath: string, upstream: string): Promise<RecordingProxy> {
  const { createServer, createConnection } = await import("node:net");
  const sent: Buffer[][] = [];
  const server = createServer((client) => {
    const chunks: Buffer[] = [];
    sent.push(chunks);
    const daemon = createConnection({ path: upstream });
    client.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      daemon.write(chunk);
    });
    daemon.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("close", () => daemon.end());
    daemon.on("close", () => client.end());
    client.on("error", () => daemon.destroy());
    daemon.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { socketPath, requests: () => sent.flatMap((chunks, i) => splitRequests(i, Buffer.concat(chunks))) };
}
