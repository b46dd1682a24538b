import { MemoryDevice, dumpLines, initLockspaceArea, initResourceArea, readDeltaSector } from "@sanlock-ts/core";

// Any BlockDevice will do: the daemon's O_DIRECT device, or this one in memory.
const device = new MemoryDevice({ sectorSize: 512, size: 2 * 1048576 });

// A lockspace area at offset 0 and a resource lease at 1 MiB, byte for byte as sanlock writes them.
await initLockspaceArea(device, { offset: 0, spaceName: "demo", ioTimeout: 10 });
await initResourceArea(device, { offset: 1048576, spaceName: "demo", resourceName: "vm1" });

// host_id 1's delta lease record: free (timestamp 0) until a host joins with that id.
const { leader } = await readDeltaSector(device, { offset: 0, hostId: 1 });
console.log(`host_id 1: timestamp ${leader.timestamp}, io_timeout ${leader.ioTimeout}`);

// What `sanlock direct dump` prints for the same bytes.
for (const line of await dumpLines(device, { offset: 0 })) console.log(line);
