// Lockspace handles of one host (docs/dlm.md §1.7): create (join on first use, with the kernel's
// create count and NEWEXCL), open, close, release with and without force. Joining and leaving
// the sanlock lockspace are the caller's (the daemon's); this table keeps the DLM rules.
import { NAME_LEN } from "../limits.js";
import type { DlmEngine } from "./engine.js";
import { DEFAULT_LVB_LEN, type LockspaceHeader } from "./lockspace-header.js";
import { DlmError, LSFL } from "./status.js";

export interface LockspaceOptions {
  /** NEWEXCL: EEXIST when already joined here. */
  readonly exclusive?: boolean;
  readonly noDir?: boolean;
  readonly timeWarn?: boolean;
  /** Accepted and ignored, as the kernel's FS flag for user space. */
  readonly fs?: boolean;
  readonly lvbLength?: number;
  readonly cluster?: string;
}

/** A joined lockspace: its engine, and how to leave it. */
export interface JoinedLockspace {
  readonly engine: DlmEngine;
  /** Leave the sanlock lockspace; `force` after dropping every lock without I/O. */
  leave(force: boolean): Promise<void>;
}

export interface LockspaceHost {
  /** The DLM lockspace header of `name` on its volume; undefined when there is none. */
  readHeader(name: string): Promise<LockspaceHeader | undefined>;
  join(name: string, header: LockspaceHeader): Promise<JoinedLockspace>;
}

export interface LockspaceHandle {
  readonly id: number;
  readonly name: string;
  /** The process the handle belongs to: close() ends that process's locks. */
  readonly pid: number;
  readonly engine: DlmEngine;
}

interface Entry {
  readonly joined: JoinedLockspace;
  readonly header: LockspaceHeader;
  count: number;
  readonly handles: Set<number>;
}

/** Most lockspaces one host joins. */
export const MAX_LOCKSPACES = 64;

export class DlmLockspaces {
  private readonly entries = new Map<string, Entry>();
  private readonly joining = new Map<string, Promise<Entry>>();
  private readonly handles = new Map<number, LockspaceHandle>();
  private nextHandle = 1;

  constructor(private readonly host: LockspaceHost) {}

  /** dlm_create_lockspace / dlm_new_lockspace (docs/dlm.md §1.7). */
  async create(name: string, pid: number, options: LockspaceOptions = {}): Promise<LockspaceHandle> {
    const len = new TextEncoder().encode(name).length;
    if (len < 1 || len > NAME_LEN) throw new DlmError("EINVAL", "create", `lockspace name of ${len} bytes (1..${NAME_LEN})`);
    const lvbLength = options.lvbLength ?? DEFAULT_LVB_LEN;
    const exflags = (options.noDir ? LSFL.NODIR : 0) | (options.timeWarn ? LSFL.TIMEWARN : 0);
    const existing = this.entries.get(name);
    if (existing) {
      if (options.exclusive) throw new DlmError("EEXIST", "create", `lockspace ${name} is already joined`);
      this.checkOptions(existing.header, exflags, lvbLength, options.cluster);
      existing.count++;
      return this.handleFor(existing, name, pid);
    }
    let pending = this.joining.get(name);
    if (!pending) {
      if (this.entries.size >= MAX_LOCKSPACES) throw new DlmError("ENOMEM", "create", `more than ${MAX_LOCKSPACES} lockspaces`);
      pending = this.join(name, exflags, lvbLength, options.cluster);
      this.joining.set(name, pending);
      try {
        const entry = await pending;
        return this.handleFor(entry, name, pid);
      } finally {
        this.joining.delete(name);
      }
    }
    const entry = await pending;
    if (options.exclusive) throw new DlmError("EEXIST", "create", `lockspace ${name} is already joined`);
    this.checkOptions(entry.header, exflags, lvbLength, options.cluster);
    entry.count++;
    return this.handleFor(entry, name, pid);
  }

  private async join(name: string, exflags: number, lvbLength: number, cluster: string | undefined): Promise<Entry> {
    const header = await this.host.readHeader(name);
    if (!header || header.name !== name) throw new DlmError("ENOENT", "create", `no DLM lockspace ${name} on its volume`);
    this.checkOptions(header, exflags, lvbLength, cluster);
    let joined: JoinedLockspace;
    try {
      joined = await this.host.join(name, header);
    } catch (err) {
      throw new DlmError("ENOTCONN", "create", `joining ${name} failed: ${(err as Error)?.message ?? String(err)}`);
    }
    const entry: Entry = { joined, header, count: 1, handles: new Set() };
    this.entries.set(name, entry);
    return entry;
  }

  /** NODIR/TIMEWARN and lvblen must match the volume's (EPROTO); a cluster name must match (EBADR). */
  private checkOptions(header: LockspaceHeader, exflags: number, lvbLength: number, cluster: string | undefined): void {
    if ((header.exflags & (LSFL.NODIR | LSFL.TIMEWARN)) !== exflags) {
      throw new DlmError("EPROTO", "create", `lockspace flags 0x${exflags.toString(16)}, the volume has 0x${header.exflags.toString(16)}`);
    }
    if (header.lvbLen !== lvbLength) throw new DlmError("EPROTO", "create", `lvblen ${lvbLength}, the volume has ${header.lvbLen}`);
    if (cluster !== undefined && cluster !== header.cluster) throw new DlmError("EBADR", "create", `cluster ${cluster}, the volume's is "${header.cluster}"`);
  }

  private handleFor(entry: Entry, name: string, pid: number): LockspaceHandle {
    const handle: LockspaceHandle = { id: this.nextHandle++, name, pid, engine: entry.joined.engine };
    entry.handles.add(handle.id);
    this.handles.set(handle.id, handle);
    return handle;
  }

  /** dlm_open_lockspace: a handle on a lockspace joined here, else ENOENT. */
  open(name: string, pid: number): LockspaceHandle {
    const entry = this.entries.get(name);
    if (!entry) throw new DlmError("ENOENT", "open", `lockspace ${name} is not joined here`);
    return this.handleFor(entry, name, pid);
  }

  /** dlm_close_lockspace: the handle's process's locks go as on exit (docs/dlm.md §5.10); the lockspace stays. */
  close(handle: LockspaceHandle): void {
    const entry = this.entries.get(handle.name);
    if (!entry?.handles.delete(handle.id)) throw new DlmError("ENOENT", "release", `handle ${handle.id} is not open`);
    this.handles.delete(handle.id);
    entry.joined.engine.processExit(handle.pid);
  }

  /**
   * dlm_release_lockspace: the last release leaves. Without force any lock (orphans too) is EBUSY;
   * with force every lock is dropped without telling its holder (docs/dlm.md §1.7).
   */
  async release(handle: LockspaceHandle, force: boolean): Promise<void> {
    const entry = this.entries.get(handle.name);
    if (!entry?.handles.has(handle.id)) throw new DlmError("ENOENT", "release", `handle ${handle.id} is not open`);
    if (entry.count > 1) {
      entry.count--;
      this.close(handle);
      return;
    }
    const engine = entry.joined.engine;
    if (!force && engine.lockInfo().length > 0) throw new DlmError("EBUSY", "release", `lockspace ${handle.name} still has locks`);
    entry.handles.delete(handle.id);
    this.handles.delete(handle.id);
    this.entries.delete(handle.name);
    if (force) engine.stop();
    else await engine.idle();
    await entry.joined.leave(force);
    if (!force) engine.stop();
  }

  /**
   * Our lockspace failed (docs/dlm.md §5.11): its engine is stopped and the caller leaves the
   * sanlock lockspace; every handle on it is gone, and the next create joins again.
   */
  forget(name: string): void {
    const entry = this.entries.get(name);
    if (!entry) return;
    for (const id of entry.handles) this.handles.delete(id);
    this.entries.delete(name);
    entry.joined.engine.stop();
  }

  /** The handle `id`, if it is open. */
  handle(id: number): LockspaceHandle | undefined {
    return this.handles.get(id);
  }

  /** Joined lockspaces and their create counts. */
  list(): { name: string; count: number }[] {
    return [...this.entries].map(([name, e]) => ({ name, count: e.count }));
  }
}
