// What a daemon process costs, read from /proc (Linux only).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/PID/stat's utime and stime (normally 100). */
export const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** One "Name: N kB" line of /proc/PID/status, in KiB. */
function statusKiB(pid, name) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status);
  if (!m) throw new Error(`/proc/${pid}/status has no ${name} line`);
  return Number(m[1]);
}

/** Resident set size in KiB: the VmRSS line of /proc/PID/status. */
export function rssKiB(pid) {
  return statusKiB(pid, "VmRSS");
}

/**
 * The anonymous part of the resident set in KiB (RssAnon): the process's own memory (heaps,
 * stacks, buffers), without the pages of its executable and libraries (RssFile), which are
 * shared with every other process running the same binary (for node, some 44 MiB).
 */
export function anonRssKiB(pid) {
  return statusKiB(pid, "RssAnon");
}

/**
 * utime and stime of one /proc stat file (a process's /proc/PID/stat or a thread's
 * /proc/PID/task/TID/stat), in clock ticks: fields 14 and 15. The command name (field 2) may
 * hold spaces, so fields are counted after its closing parenthesis.
 */
export function statTicks(path) {
  const stat = readFileSync(path, "utf8");
  const afterName = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // afterName[0] is field 3 (state), so field N is afterName[N - 3].
  const user = Number(afterName[14 - 3]);
  const system = Number(afterName[15 - 3]);
  if (!Number.isFinite(user) || !Number.isFinite(system)) throw new Error(`${path}: unreadable utime/stime`);
  return { user, system };
}

/** CPU seconds the process (all threads) has used so far: utime + stime of /proc/PID/stat. */
export function cpuSeconds(pid) {
  const { user, system } = statTicks(`/proc/${pid}/stat`);
  return (user + system) / CLOCK_TICKS;
}
