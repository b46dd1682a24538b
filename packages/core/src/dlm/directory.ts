// The resource directory of a DLM volume (docs/dlm.md §3.2, §5.3): DLM resource name → its lease
// area, found through the rindex, created on first use under the rindex's internal lease.
// Entries are never deleted online, so a name found once stays where it is: lookups are cached.
import { buildResourceArea } from "../areas/resource-area.js";
import { findEntryByName, findFreeEntry, readRindex, updateRindex } from "../areas/rindex-area.js";
import type { BlockDevice } from "../block-device.js";
import type { Geometry } from "../ondisk/geometry.js";
import type { LockspaceHeader } from "./lockspace-header.js";
import { RESOURCE_HEADER_SIZE, decodeResourceHeader, encodeResourceHeader } from "./resource-header.js";
import type { ResourceArea } from "./resource-io.js";
import { DlmError } from "./status.js";

/** Longest name used as its own sanlock name (a sanlock name field is 48 bytes with its NUL). */
const PLAIN_NAME_MAX = 47;
/** Hex digits of the SHA-256 kept in a hashed sanlock name ("#" + 46 = 47 bytes). */
const HASH_HEX_DIGITS = 46;

/**
 * docs/dlm.md §3.2: the name itself when it is 1..47 printable bytes (0x21..0x7E) not starting
 * with "#", else "#" + the first 46 hex digits of SHA-256(name). `sha256` is injected: core
 * has no hash of its own and no Node imports.
 */
export function sanlockNameOf(name: Uint8Array, sha256: (bytes: Uint8Array) => Uint8Array): string {
  const plain = name.length >= 1 && name.length <= PLAIN_NAME_MAX && name[0] !== 0x23 && name.every((b) => b >= 0x21 && b <= 0x7e);
  if (plain) return String.fromCharCode(...name);
  const hex = Array.from(sha256(name), (b) => b.toString(16).padStart(2, "0")).join("");
  return `#${hex.slice(0, HASH_HEX_DIGITS)}`;
}

/** What creating a resource needs: the rindex's internal lease (docs/ondisk.md §8.3). */
export interface DirectoryOptions {
  readonly device: BlockDevice;
  readonly header: LockspaceHeader;
  readonly geometry: Geometry;
  readonly hostId: number;
  sha256(bytes: Uint8Array): Uint8Array;
  /** Runs `work` while this host holds the rindex lease (at rindex offset + align size). */
  underIndexLease<T>(work: () => Promise<T>): Promise<T>;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class ResourceDirectory {
  private readonly cache = new Map<string, ResourceArea>();

  constructor(private readonly opts: DirectoryOptions) {}

  /** The cached area of a resource resolved before (the engine's synchronous `locate`). */
  cached(name: Uint8Array): ResourceArea | undefined {
    return this.cache.get(keyOf(name));
  }

  /** Finds the resource's area, creating it when the rindex has no entry for it. */
  async resolve(name: Uint8Array): Promise<ResourceArea> {
    const hit = this.cached(name);
    if (hit) return hit;
    const sanlockName = sanlockNameOf(name, (b) => this.opts.sha256(b));
    const area = (await this.find(name, sanlockName)) ?? (await this.opts.underIndexLease(() => this.create(name, sanlockName)));
    this.cache.set(keyOf(name), area);
    return area;
  }

  private loc(): { offset: number; spaceName: string } {
    return { offset: Number(this.opts.header.rindexOffset), spaceName: this.opts.header.name };
  }

  /** The rindex entry named `sanlockName`, its resource header checked against the full name. */
  private async find(name: Uint8Array, sanlockName: string): Promise<ResourceArea | undefined> {
    const rx = await readRindex(this.opts.device, this.loc());
    const found = findEntryByName(rx, sanlockName);
    if (!found) return undefined;
    const g = this.opts.geometry;
    const last = await this.opts.device.read(found.resOffset + g.alignSize - g.sectorSize, g.sectorSize);
    const header = decodeResourceHeader(last, 0);
    // A hashed name that collides with another name's hash: the kernel's "cannot process" (docs/dlm.md §3.2).
    if (!sameBytes(header.name, name)) throw new DlmError("ENOMEM", "lock", `resource ${sanlockName} on disk holds another name`);
    return { sanlockName, offset: found.resOffset, index: found.index };
  }

  /**
   * docs/dlm.md §5.3 step 2, under the rindex lease: look again (another host may have created
   * it meanwhile), then one write of the whole area (sanlock's resource init plus our header in
   * its last sector), then the entry. A crash between the two leaves an area no entry names,
   * which the next create overwrites.
   */
  private async create(name: Uint8Array, sanlockName: string): Promise<ResourceArea> {
    const again = await this.find(name, sanlockName);
    if (again) return again;
    const rx = await readRindex(this.opts.device, this.loc());
    const free = findFreeEntry(rx);
    if (!free)
      throw new DlmError("ENOMEM", "lock", `the rindex of ${this.opts.header.name} has no free entry (max_resources ${this.opts.header.maxResources})`);
    const g = this.opts.geometry;
    const area = buildResourceArea({ spaceName: this.opts.header.name, resourceName: sanlockName, numHosts: this.opts.header.numHosts }, g);
    const header = encodeResourceHeader({
      name,
      entryIndex: free.index,
      sanlockName,
      lockspace: this.opts.header.name,
      lockspaceId: this.opts.header.lockspaceId,
      creatorHostId: this.opts.hostId,
    });
    area.set(header.subarray(0, RESOURCE_HEADER_SIZE), g.alignSize - g.sectorSize);
    await this.opts.device.write(free.resOffset, area);
    await updateRindex(this.opts.device, this.loc(), { resOffset: free.resOffset, name: sanlockName });
    return { sanlockName, offset: free.resOffset, index: free.index };
  }
}

function keyOf(name: Uint8Array): string {
  return Array.from(name, (b) => b.toString(16).padStart(2, "0")).join("");
}
