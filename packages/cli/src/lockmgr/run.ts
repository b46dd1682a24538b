/**
 * `sanlock-ts lockmgr ...` (docs/lockmanager.md §2.9, §5.5):
 *
 * - `exec [DOMAIN OPTIONS] -- PROGRAM ARGS`: what libvirt does in QEMU's child between fork and
 *   exec — register with the daemon, register the failure action (KILLPATH), acquire the domain's
 *   leases unless `--paused`, RESTRICT_ALL — and then become PROGRAM in place with the registered
 *   connection (exec-holder.ts), so the program itself is the registered process.
 * - `cleanup [-q] [--config FILE]`: virt-sanlock-cleanup's job (cleanup.ts).
 * - `killpath URI UUID ACTION PID`: the failure-action helper the daemon runs for such a
 *   program when its lockspace fails (the counterpart of libvirt_sanlock_helper): poweroff =
 *   SIGKILL the program; pause = SIGSTOP it and release its leases by pid.
 */
import { realpathSync, statSync } from "node:fs";
import { EXIT_FAILURE, type Output } from "../output.js";

const USAGE = [
  "usage: sanlock-ts lockmgr exec --name NAME --uuid UUID [--uri URI] [--config FILE] [--action default|poweroff|pause]",
  "                              [--paused] [--lease JSON]... [--disk JSON]... [--killpath-helper PATH] -- PROGRAM [ARGS]",
  "       sanlock-ts lockmgr killpath URI UUID poweroff|pause PID",
  "       sanlock-ts lockmgr cleanup [-q] [--config FILE]",
];

export async function runLockmgr(argv: readonly string[], output: Output): Promise<number> {
  const [action, ...rest] = argv;
  if (action === "exec") return runExec(rest, output);
  if (action === "cleanup") {
    const { runCleanup } = await import("./cleanup.js");
    return runCleanup(rest, output);
  }
  if (action === "killpath") {
    const { runKillpath } = await import("./killpath-helper.js");
    return runKillpath(rest, output);
  }
  for (const line of USAGE) output.error(line);
  return EXIT_FAILURE;
}

/** The killpath helper is this CLI: the executable `sanlock-ts` when it is one, else node + main.js. */
function defaultHelper(): { path: string; leadingArgs: string[] } {
  const main = realpathSync(process.argv[1] ?? "");
  const executable = (statSync(main).mode & 0o111) !== 0;
  return executable ? { path: main, leadingArgs: ["lockmgr", "killpath"] } : { path: process.execPath, leadingArgs: [main, "lockmgr", "killpath"] };
}

async function runExec(argv: readonly string[], output: Output): Promise<number> {
  const { parseExecLine, ExecLineError } = await import("./exec-args.js");
  let line;
  try {
    line = parseExecLine(argv);
  } catch (err) {
    if (!(err instanceof ExecLineError)) throw err;
    output.error(`sanlock-ts: lockmgr exec: ${err.message}`);
    for (const usage of USAGE) output.error(usage);
    return EXIT_FAILURE;
  }
  const { SanlockLockDriver, processStart, LockManagerError } = await import("@sanlock-ts/client/lockmanager");
  const helper = line.killpathHelper !== undefined ? { path: line.killpathHelper, leadingArgs: ["lockmgr", "killpath"] } : defaultHelper();
  let registration;
  let socketPath: string;
  try {
    // The manager that started this process has set up and joined the lockspace already.
    const driver = await SanlockLockDriver.init({
      ...(line.configFile !== undefined ? { configFile: line.configFile } : {}),
      setupLockspace: false,
      killpathHelper: { ...helper, appendPid: true },
    });
    socketPath = driver.socketPath;
    registration = await processStart(driver, line.dom, { paused: line.paused });
  } catch (err) {
    if (!(err instanceof LockManagerError)) throw err;
    output.error(`sanlock-ts: lockmgr exec: ${err.message}`);
    return EXIT_FAILURE;
  }
  const { ExecHolder } = await import("@sanlock-ts/cli/exec-holder");
  const failure = await ExecHolder.adopt(registration, socketPath).becomeProgram(line.program, [...line.programArgs]);
  output.error(`sanlock-ts: lockmgr exec: ${line.program} was not executed: ${failure.message} (${failure.code}); its leases are released`);
  await registration.close();
  return EXIT_FAILURE;
}
