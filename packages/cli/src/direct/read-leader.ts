/**
 * `direct read_leader -s LOCKSPACE | -r RESOURCE` (docs/ondisk.md §9.3): read one
 * leader record, validate it as sanlock does (docs/ondisk.md §4), print
 * "read_leader done <rc>" and every field. On a problem the fields read are
 * still printed (as sanlock does) and one line on stderr names the field and
 * its byte offset.
 */
import type { LeaderRecord } from "@sanlock-ts/daemon/disk";
import type { GeometryArg } from "../args/geometry-args.js";
import type { LockspaceArg, ResourceArg } from "../args/sanlock-strings.js";
import type { Output } from "../output.js";
import { withDevice } from "./device.js";
import { DirectFailure, RC, leaderProblemRc } from "./result-codes.js";

/** sanlock reads 4096 bytes to detect sizes (docs/ondisk.md §2.3). */
const DETECT_BYTES = 4096;

export type LeaderTarget = { readonly kind: "delta"; readonly lockspace: LockspaceArg } | { readonly kind: "paxos"; readonly resource: ResourceArg };

interface ReadOutcome {
  readonly rc: number;
  readonly record: LeaderRecord | undefined;
  readonly problem: string | undefined;
}

export async function readLeaderCommand(target: LeaderTarget, geometry: GeometryArg | undefined, output: Output): Promise<number> {
  const outcome = await readLeader(target, geometry).catch((error: unknown): ReadOutcome => {
    const message = error instanceof Error ? error.message : String(error);
    const rc = error instanceof DirectFailure ? error.rc : isDeviceOpenError(error) ? RC.ENODEV : RC.FAILED;
    return { rc, record: undefined, problem: message };
  });
  output.line(`read_leader done ${outcome.rc}`);
  const { emptyLeader } = await import("@sanlock-ts/daemon/disk");
  await printLeader(outcome.record ?? emptyLeader(), target.kind, output);
  if (outcome.problem !== undefined) output.error(`sanlock-ts: read_leader: ${outcome.problem}`);
  return outcome.rc === RC.OK ? 0 : 1;
}

function isDeviceOpenError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_DEVICE_NOT_FOUND" || code === "ERR_DEVICE_ACCESS" || code === "ERR_DEVICE_NOT_A_DEVICE" || code === "ERR_CLI_PATH_MISSING";
}

async function readLeader(target: LeaderTarget, geometry: GeometryArg | undefined): Promise<ReadOutcome> {
  const { inspectLeader } = await import("@sanlock-ts/daemon/disk");
  const { detectGeometry } = await import("@sanlock-ts/daemon/disk");
  const path = target.kind === "delta" ? target.lockspace.path : (target.resource.disks[0]?.path ?? "");
  return withDevice(path, undefined, async (device) => {
    if (target.kind === "paxos") {
      const offset = target.resource.disks[0]?.offset ?? 0;
      // paxos: the leader is sector 0 of the area (docs/ondisk.md §6.1); sanlock reads 4096 bytes when no -Z is given
      const bytes = await device.read(offset, geometry?.sectorSize ?? Math.max(device.sectorSize, DETECT_BYTES));
      return judge(inspectLeader(bytes, 0, { kind: "paxos", at: offset, spaceName: target.resource.lockspaceName, resourceName: target.resource.name }));
    }
    const ls = target.lockspace;
    if (ls.hostId < 1) throw new DirectFailure("ERR_CLI_BAD_HOST_ID", RC.EINVAL, `host_id ${ls.hostId} is not a valid host_id (1 or more)`);
    let sizes = geometry;
    if (sizes === undefined) {
      const first = await device.read(ls.offset, Math.max(device.sectorSize, DETECT_BYTES));
      const found = detectGeometry(first);
      if (found === undefined) {
        throw new DirectFailure(
          "ERR_DISK_GEOMETRY_NOT_FOUND",
          RC.FAILED,
          `no delta or paxos leader at offset ${ls.offset} of ${path} to take the sector size and alignment from (set -Z and -A)`,
        );
      }
      sizes = found;
    }
    // delta: host N's record is sector N-1 of the lockspace (docs/ondisk.md §5.1)
    const at = ls.offset + (ls.hostId - 1) * sizes.sectorSize;
    const bytes = await device.read(at, Math.max(sizes.sectorSize, device.sectorSize));
    return judge(inspectLeader(bytes, 0, { kind: "delta", at, spaceName: ls.name }));
  });
}

function judge(inspection: { record: LeaderRecord; problems: readonly { code: string; field: string; message: string }[] }): ReadOutcome {
  const first = inspection.problems[0];
  if (first === undefined) return { rc: RC.OK, record: inspection.record, problem: undefined };
  return { rc: leaderProblemRc(first.code, first.field), record: inspection.record, problem: first.message };
}

/** The field lines of sanlock's print_leader (src/main.c), formatted by core (docs/ondisk.md §9.3). */
async function printLeader(record: LeaderRecord, kind: "delta" | "paxos", output: Output): Promise<void> {
  const { formatLeaderLines } = await import("@sanlock-ts/daemon/disk");
  for (const line of formatLeaderLines(record, kind)) output.line(line);
}
