// libdlm's names over the DLM socket, for ports of C code (docs/dlm.md §7): numeric modes and
// flags, lksb objects, 0 / −1 with `errno`, ASTs as callbacks. One shared connection per
// process is the "process" of every lock taken through these functions (libdlm: the fd of
// /dev/misc/dlm_NAME). The lockspace's volume must be known to the daemon (a `sanlock-ts dlm
// join NAME --disk ...` or a create with `disk` before).
import { DlmError, LKF } from "@sanlock-ts/core/dlm";
import { DlmConnection, type Message } from "./dlm-connection.js";

/** struct dlm_lksb: status, lock id, sb_flags (DEMOTED 1, VALNOTVALID 2, ALTMODE 4), LVB. */
export interface Lksb {
  sb_status: number;
  sb_lkid: number;
  sb_flags: number;
  sb_lvbptr?: Uint8Array;
}

export interface DlmLsHandle {
  readonly name: string;
  readonly handle: number;
}

/** The errno of the last call that returned −1 (libdlm sets errno). */
export let errno = 0;

let shared: Promise<DlmConnection> | undefined;
function connection(): Promise<DlmConnection> {
  shared ??= DlmConnection.connect();
  return shared;
}

async function call<T>(work: (c: DlmConnection) => Promise<T>): Promise<T | -1> {
  try {
    return await work(await connection());
  } catch (err) {
    errno = err instanceof DlmError ? err.status : 107;
    return -1;
  }
}

function sbFlags(m: Message): number {
  const sb = (m.sb ?? {}) as { demoted?: boolean; valNotValid?: boolean; altMode?: boolean };
  return (sb.demoted ? 1 : 0) | (sb.valNotValid ? 2 : 0) | (sb.altMode ? 4 : 0);
}

function fillLksb(lksb: Lksb, m: Message): void {
  lksb.sb_status = Number(m.status);
  lksb.sb_flags = sbFlags(m);
  if (typeof m.lvb === "string" && lksb.sb_lvbptr) lksb.sb_lvbptr.set(Buffer.from(m.lvb, "base64").subarray(0, lksb.sb_lvbptr.length));
}

/** dlm_new_lockspace(name, mode, flags): LSFL flags as the kernel's (NEWEXCL 8, NODIR 1, TIMEWARN 2). */
export async function dlm_new_lockspace(name: string, _mode: number, flags: number): Promise<DlmLsHandle | null> {
  const r = await call((c) => c.request("create", { name, exclusive: !!(flags & 8), noDir: !!(flags & 1), timeWarn: !!(flags & 2) }, "create"));
  return r === -1 ? null : { name, handle: Number(r.handle) };
}

export async function dlm_open_lockspace(name: string): Promise<DlmLsHandle | null> {
  const r = await call((c) => c.request("open", { name }, "open"));
  return r === -1 ? null : { name, handle: Number(r.handle) };
}

export async function dlm_close_lockspace(ls: DlmLsHandle): Promise<number> {
  const r = await call((c) => c.request("close", { handle: ls.handle }, "release"));
  return r === -1 ? -1 : 0;
}

export async function dlm_release_lockspace(_name: string, ls: DlmLsHandle, force: number): Promise<number> {
  const r = await call((c) => c.request("release", { handle: ls.handle, force: force !== 0 }, "release"));
  return r === -1 ? -1 : 0;
}

/**
 * dlm_ls_lock: 0 when the request was accepted; `ast(astarg)` runs at completion with the lksb
 * filled (sb_status 0 or EAGAIN...), `bast(astarg, mode)` for blocking ASTs. CONVERT uses lksb.sb_lkid.
 */
export async function dlm_ls_lock(
  ls: DlmLsHandle,
  mode: number,
  lksb: Lksb,
  flags: number,
  name: string | Uint8Array | null,
  _parent: number,
  ast: ((arg: unknown) => void) | null,
  astarg: unknown,
  bast: ((arg: unknown, mode: number) => void) | null,
): Promise<number> {
  const r = await call(async (c) => {
    const fields: Message = { handle: ls.handle, mode, flags, bast: bast !== null };
    if (flags & LKF.CONVERT) fields.lkid = lksb.sb_lkid;
    else if (name !== null) fields.resource = Buffer.from(typeof name === "string" ? new TextEncoder().encode(name) : name).toString("base64");
    if (flags & LKF.VALBLK && lksb.sb_lvbptr) fields.lvb = Buffer.from(lksb.sb_lvbptr).toString("base64");
    const listen = (lkid: number): void =>
      c.onLock(lkid, (m) => {
        if (m.event === "bast") bast?.(astarg, Number(m.mode));
        else if (m.event === "ast") {
          fillLksb(lksb, m);
          if (Number(m.mode) < 0) c.offLock(lkid);
          ast?.(astarg);
        }
      });
    // A conversion's AST can come in the same read as its reply: this call's callbacks must be
    // in place before the request, or the AST would reach the previous call's.
    if (flags & LKF.CONVERT) listen(lksb.sb_lkid);
    const reply = await c.request("lock", fields, flags & LKF.CONVERT ? "convert" : "lock");
    const lkid = Number(reply.lkid);
    lksb.sb_lkid = lkid;
    if (!(flags & LKF.CONVERT)) listen(lkid);
    return 0;
  });
  return r === -1 ? -1 : 0;
}

/** dlm_ls_lock_wait: returns once the completion came (0, the status in lksb.sb_status), or −1. */
export function dlm_ls_lock_wait(ls: DlmLsHandle, mode: number, lksb: Lksb, flags: number, name: string | Uint8Array | null): Promise<number> {
  return new Promise((resolve) => {
    void dlm_ls_lock(ls, mode, lksb, flags, name, 0, () => resolve(0), undefined, null).then((r) => {
      if (r !== 0) resolve(r);
    });
  });
}

/** dlm_ls_unlock / dlm_ls_unlock_wait (the daemon completes an unlock at once): lksb gets EUNLOCK or ECANCEL. */
export async function dlm_ls_unlock(ls: DlmLsHandle, lkid: number, flags: number, lksb: Lksb): Promise<number> {
  const r = await call(async (c) => {
    const fields: Message = { handle: ls.handle, lkid, flags };
    if (flags & LKF.VALBLK && lksb.sb_lvbptr) fields.lvb = Buffer.from(lksb.sb_lvbptr).toString("base64");
    const reply = await c.request("unlock", fields, flags & LKF.CANCEL ? "cancel" : "unlock", lkid);
    fillLksb(lksb, reply.ast as Message);
    return 0;
  });
  return r === -1 ? -1 : 0;
}

export const dlm_ls_unlock_wait = dlm_ls_unlock;

/** dlm_ls_purge(ls, nodeid, pid): unlocks orphans of pid (0: all) on this node. */
export async function dlm_ls_purge(ls: DlmLsHandle, nodeid: number, pid: number): Promise<number> {
  const r = await call((c) => c.request("purge", { handle: ls.handle, nodeId: nodeid, pid }, "purge"));
  return r === -1 ? -1 : 0;
}

/** Closes the shared connection (the "process" exits: its locks go). */
export async function dlm_shutdown(): Promise<void> {
  const c = shared;
  shared = undefined;
  if (c) await (await c).close();
}
