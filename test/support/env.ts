/**
 * The one place that decides what a missing test environment does to a test: the real sanlock
 * 3.8.5 binary, /usr/bin/python3 with the sanlock binding, root, losetup and loop devices,
 * /dev/fuse and python3-fusepy, a built dist/ that a test runs as a separate process.
 *
 * - Without REQUIRE_INTEROP=1 (a developer machine): the test is skipped and says why.
 * - With REQUIRE_INTEROP=1 (CI, see .ci/run): the skip becomes a failure, so an interop test
 *   can never turn into a green skip because the machine lacks what it drives. The failure is
 *   reported on the test that creates the would-be-skipped subtest (tap's root when none is
 *   given) and names the missing piece; the subtest's body does not run (it would only fail
 *   later on a confusing ENOENT or timeout).
 *
 * Use it for environment reasons only. A skip for any other reason (a case that applies to
 * one daemon kind only, a machine that has a real /dev/watchdog the test must not arm) is a
 * plain tap `skip` and stays one.
 *
 *   t.test("…", { skip: environmentSkip(!hasSanlock && "sanlock not installed") }, …);
 *   t.test("…", { skip: environmentSkip(reason, t) }, …);   // report on `t` instead of the root
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import tap from "tap";

/** True when the environment switch is set: missing interop prerequisites fail instead of skipping. */
export const REQUIRE_INTEROP = process.env["REQUIRE_INTEROP"] === "1";

/** The part of a tap Test the helper reports a failure on. */
export interface FailTarget {
  fail(message: string, extra: { [key: string]: unknown }): unknown;
}

/**
 * What to pass as tap's `skip` for an environment `reason` (false/undefined/"" = nothing is
 * missing, run the test). Under REQUIRE_INTEROP=1 a reason is also a failing assertion on `t`.
 */
export function environmentSkip(reason: string | false | null | undefined, t: FailTarget = tap): string | false {
  if (!reason) return false;
  if (!REQUIRE_INTEROP) return reason;
  t.fail(`REQUIRE_INTEROP=1 and the environment cannot run this test: ${reason}`, {
    requireInterop: "unset REQUIRE_INTEROP to let such tests skip (developer machines); CI sets it in .ci/run",
  });
  return `not run: ${reason} (counted as a failure: REQUIRE_INTEROP=1)`;
}

/** The repository's root directory (this file is test/support/env.ts). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The built sanlock-ts command, as tests run it in a process of its own. */
export const OUR_CLI = join(REPO_ROOT, "packages/cli/dist/main.cjs");
/** The built client, for helper processes that import it (lease holders). */
export const CLIENT_DIST = join(REPO_ROOT, "packages/client/dist/index.js");
/** Debian's python3, which has the python3-sanlock binding (not a pyenv one). */
export const PYTHON = "/usr/bin/python3";
/** The one answer to "is the real sanlock installed": its command runs. */
export const HAVE_REAL_SANLOCK = spawnSync("sanlock", ["version"]).status === 0;

/** The two daemons a test can start (support/daemons.ts). */
export type DaemonKind = "sanlock-ts" | "sanlock";

/**
 * Why the daemons of `kinds` cannot run here, or false; pass it as tap's `skip`. Under
 * REQUIRE_INTEROP=1 a reason is also a failure, reported on `t` (default: tap's root).
 */
export function daemonSkipReason(kinds: DaemonKind | readonly DaemonKind[], t?: FailTarget): string | false {
  return environmentSkip(daemonEnvironmentGap(typeof kinds === "string" ? [kinds] : kinds), t);
}

function daemonEnvironmentGap(kinds: readonly DaemonKind[]): string | false {
  if (kinds.includes("sanlock") && !HAVE_REAL_SANLOCK) return "sanlock 3.8.5 is not installed";
  if (kinds.includes("sanlock-ts") && !existsSync(OUR_CLI)) return "packages/cli/dist is not built (run pnpm build)";
  if (!existsSync(CLIENT_DIST)) return "packages/client/dist is not built (run pnpm build)";
  return false;
}
