/**
 * Resource leases this host holds, and which local client holds each (docs/wire.md §5.6,
 * docs/algorithms.md §5.6, §7.1, §7.8).
 *
 * One `HeldResource` per (lockspace, resource) on this host: it owns the PaxosLease (one
 * on-disk ownership: the exclusive leader, or one shared mark shared by every local shared
 * holder). Each local holder is a `Token`: the client connection (or none for an orphan),
 * its pid, and whether it asked for persistence.
 */
import type { PaxosLease } from "@sanlock-ts/core";
import type { ResourceDisksUse } from "./resource-disks.js";
import type { Connection } from "../connection.js";

export type HeldState = "acquiring" | "held" | "releasing";

export interface LeaseDisk {
  readonly path: string;
  readonly offset: bigint;
}

export interface HeldResource {
  readonly lockspace: string;
  readonly name: string;
  readonly disks: readonly LeaseDisk[];
  readonly lease: PaxosLease;
  /** The shared devices of the lease's disks, released when the resource is dropped. */
  readonly deviceUse: ResourceDisksUse;
  readonly shared: boolean;
  state: HeldState;
  /** Acquired with ACQUIRE_LVB (SET/GET_LVB allowed, docs/wire.md §7.24). */
  lvb: boolean;
  /** Local holders; an orphan is a token without a connection. */
  readonly tokens: Token[];
  /** The lockspace instance's host generation when acquired (docs/algorithms.md §7.11 rule 3). */
  readonly generation: bigint;
  /** Daemon-wide resource number shown as res_id in STATUS. */
  readonly resId: number;
  /** REL_RENAME: the name the leader is written with when the lease is freed on disk (docs/algorithms.md §4.8). */
  renameTo?: string;
}

export interface Token {
  readonly resource: HeldResource;
  /** The holding client; undefined once orphaned (docs/algorithms.md §7.8). */
  conn: Connection | undefined;
  pid: number;
  readonly persistent: boolean;
  /** Per-client token id shown in STATUS. */
  readonly tokenId: number;
  /**
   * The holder's RESTRICT_* bits when it acquired (sanlock copies cl->restricted into the token
   * flags in cmd_acquire, then into the resource): a REQUEST's force mode uses these, not the
   * connection's current bits (docs/algorithms.md §6.2).
   */
  readonly restricted: number;
}

/**
 * At most this many leases per client. SANLK_MAX_RESOURCES (8) bounds one ACQUIRE request, not a
 * client: sanlock 3.8.5 grows a client's token array, and one registration was seen holding 12
 * leases acquired in separate requests. Ours stays bounded so one client cannot take every slot
 * of MAX_HELD_RESOURCES.
 */
export const MAX_TOKENS_PER_CLIENT = 4096;
/** Bound on held resources per daemon (sanlock has no hard limit; ours keeps memory bounded). */
export const MAX_HELD_RESOURCES = 65536;

function keyOf(lockspace: string, name: string): string {
  return `${lockspace}\u0000${name}`;
}

export class TokenTable {
  private readonly resources = new Map<string, HeldResource>();
  /** Keys claimed by an acquire that is still opening its device (local −EBUSY for others). */
  private readonly reserved = new Set<string>();
  /** Tokens of each client, in acquisition order (INQUIRE order, docs/wire.md §10.3). */
  private readonly byClient = new Map<Connection, Token[]>();
  private nextTokenId = 1;

  get(lockspace: string, name: string): HeldResource | undefined {
    return this.resources.get(keyOf(lockspace, name));
  }

  all(): HeldResource[] {
    return [...this.resources.values()];
  }

  inLockspace(lockspace: string): HeldResource[] {
    return this.all().filter((r) => r.lockspace === lockspace);
  }

  /** Claims (lockspace, name) before the first await of an acquire; false when taken. */
  reserve(lockspace: string, name: string): boolean {
    const key = keyOf(lockspace, name);
    if (this.reserved.has(key) || this.resources.has(key)) return false;
    this.reserved.add(key);
    return true;
  }

  isReserved(lockspace: string, name: string): boolean {
    return this.reserved.has(keyOf(lockspace, name));
  }

  unreserve(lockspace: string, name: string): void {
    this.reserved.delete(keyOf(lockspace, name));
  }

  /** Enters a reserved resource while its disk acquire runs (state "acquiring"). */
  insert(resource: HeldResource): void {
    const key = keyOf(resource.lockspace, resource.name);
    if (this.resources.has(key)) throw new Error(`resource ${resource.lockspace}:${resource.name} already in the table`);
    this.reserved.delete(key);
    if (this.resources.size >= MAX_HELD_RESOURCES) throw new RangeError(`more than ${MAX_HELD_RESOURCES} held resources`);
    this.resources.set(key, resource);
  }

  remove(resource: HeldResource): void {
    const key = keyOf(resource.lockspace, resource.name);
    if (this.resources.get(key) === resource) this.resources.delete(key);
    for (const token of resource.tokens) this.unlinkToken(token);
  }

  clientTokens(conn: Connection): readonly Token[] {
    return this.byClient.get(conn) ?? [];
  }

  clientCount(conn: Connection): number {
    return this.clientTokens(conn).length;
  }

  /** Links a holder (docs/algorithms.md §7.11 rule 3 is checked by the caller right before). */
  link(resource: HeldResource, conn: Connection, persistent: boolean): Token {
    const token: Token = { resource, conn, pid: conn.pid, persistent, tokenId: this.nextTokenId++, restricted: conn.restricted };
    resource.tokens.push(token);
    const list = this.byClient.get(conn) ?? [];
    list.push(token);
    this.byClient.set(conn, list);
    return token;
  }

  /** Removes a holder from its resource and client; returns whether holders remain. */
  unlink(token: Token): boolean {
    const tokens = token.resource.tokens;
    const index = tokens.indexOf(token);
    if (index >= 0) tokens.splice(index, 1);
    this.unlinkToken(token);
    return tokens.length > 0;
  }

  private unlinkToken(token: Token): void {
    if (token.conn === undefined) return;
    const list = this.byClient.get(token.conn);
    if (list === undefined) return;
    const index = list.indexOf(token);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.byClient.delete(token.conn);
  }

  /** The client is gone: its token stays on the resource without a connection (docs/algorithms.md §7.8). */
  orphan(token: Token): void {
    this.unlinkToken(token);
    token.conn = undefined;
  }

  orphans(): Token[] {
    return this.all().flatMap((r) => r.tokens.filter((t) => t.conn === undefined));
  }
}
