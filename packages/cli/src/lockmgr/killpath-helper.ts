/**
 * `sanlock-ts lockmgr killpath URI UUID ACTION PID`: run by the daemon (KILLPATH with the pid
 * appended) when the lockspace of a program started by `lockmgr exec` fails (docs/lockmanager.md
 * §5.5). The daemon runs it once and, after the grace period (40 s), SIGKILLs the program anyway
 * if it still holds leases; so both actions finish well within that.
 *
 * - poweroff: SIGKILL the program and wait until it is gone (its leases go with its connection).
 * - pause: SIGSTOP the program, then release its leases by pid (INQUIRE, RELEASE). The state is
 *   printed; the manager resumes with processResume (and SIGCONT) once storage is back.
 *
 * Exit 0 on success, 1 on a usage error or a failure, as libvirt_sanlock_helper.
 */
import { readFileSync } from "node:fs";
import { inquireRaw, release } from "@sanlock-ts/client/operations";
import { parseStateString } from "@sanlock-ts/client/resource-string";
import { resolveSocketPath } from "@sanlock-ts/client/socket-path";
import { EXIT_FAILURE, EXIT_OK, type Output } from "../output.js";

/** Well inside the daemon's 40 s grace period. */
const GONE_WAIT_MS = 20_000;
const POLL_MS = 50;
const QUICK_REPLY_MS = 15_000;

/** True while the process exists and is not a zombie (a zombie's parent reaps it; its leases are gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.charAt(stat.lastIndexOf(")") + 2) !== "Z";
  } catch {
    return false;
  }
}

async function powerOff(pid: number): Promise<boolean> {
  if (alive(pid)) process.kill(pid, "SIGKILL");
  const deadline = Date.now() + GONE_WAIT_MS;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  return !alive(pid);
}

/** SIGSTOP, then INQUIRE by pid and RELEASE what it holds; returns the state. */
async function pause(pid: number): Promise<string> {
  process.kill(pid, "SIGSTOP");
  const target = { socketPath: resolveSocketPath(), timeoutMs: QUICK_REPLY_MS };
  const { result, state } = await inquireRaw(target, { pid });
  if (result < 0) throw new Error(`inquire of pid ${pid} failed: ${result}`);
  const held = state === "" ? [] : parseStateString(state);
  if (held.length > 0) await release(target, { pid }, held, 0);
  return state;
}

export async function runKillpath(argv: readonly string[], output: Output): Promise<number> {
  if (argv.length !== 4) {
    output.error("usage: sanlock-ts lockmgr killpath URI UUID poweroff|pause PID");
    return EXIT_FAILURE;
  }
  const [uri, uuid, action, pidText] = argv as [string, string, string, string];
  const pid = Number(pidText);
  if (!/^\d+$/.test(pidText) || !Number.isSafeInteger(pid) || pid <= 1) {
    output.error(`sanlock-ts lockmgr killpath: bad pid '${pidText}'`);
    return EXIT_FAILURE;
  }
  try {
    if (action === "poweroff") {
      const gone = await powerOff(pid);
      output.line(`lockmgr killpath ${uri} ${uuid}: poweroff of pid ${pid} ${gone ? "done" : "not finished"}`);
      return gone ? EXIT_OK : EXIT_FAILURE;
    }
    if (action === "pause") {
      const state = await pause(pid);
      output.line(`lockmgr killpath ${uri} ${uuid}: paused pid ${pid}, released "${state}"`);
      return EXIT_OK;
    }
  } catch (err) {
    output.error(`sanlock-ts lockmgr killpath: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_FAILURE;
  }
  output.error(`sanlock-ts lockmgr killpath: unsupported failure action '${action}'`);
  return EXIT_FAILURE;
}
