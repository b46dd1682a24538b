"""The disk's floor for one lease cycle: the I/O sequence the algorithm needs for an exclusive
acquire and release of a free lease (algorithms.md §4.3-4.8: read 1 MiB, write 512 B, read
1 MiB, write 512 B, read 1 MiB, write 512 B; then write 512 B, read 512 B, write 512 B), issued
directly with O_DIRECT|O_SYNC on a scratch file, with no daemon and no protocol. Timing a daemon
against this floor separates its I/O path from its own overhead.

Usage: python3 io_floor.py SCRATCH-FILE CYCLES THREADS  (the file is overwritten; >= THREADS MiB)
Prints {"cycle_ms_median": ..., "acquire_ms_median": ..., "cycles_per_second": ..., "cycle_ms": [...]}
(the acquire part is the first six I/Os; cycles_per_second is with THREADS threads; cycle_ms holds
every single-thread cycle, so that rounds can be pooled for a tail quantile).
"""
import json
import mmap
import os
import sys
import threading
import time

MiB = 1024 * 1024
SECTOR = 512
MAX_CYCLES = 100000
MAX_THREADS = 64


def cycle(fd, base, big, small):
    """Returns the seconds the acquire part (the first six I/Os) took."""
    t0 = time.perf_counter()
    for _ in range(3):  # §4.3 step 1 / §4.6 phase reads, each followed by a single-sector write
        os.preadv(fd, [big], base)
        os.pwritev(fd, [small], base + 2 * SECTOR)
    acquired = time.perf_counter() - t0
    os.pwritev(fd, [small], base + 2 * SECTOR)  # §4.8: released dblock
    os.preadv(fd, [small], base)  # leader read
    os.pwritev(fd, [small], base)  # leader write
    return acquired


def worker(path, index, cycles, out):
    fd = os.open(path, os.O_RDWR | os.O_DIRECT | os.O_SYNC)
    try:
        big = mmap.mmap(-1, MiB)  # anonymous mmap: page-aligned, as O_DIRECT requires
        small = memoryview(mmap.mmap(-1, mmap.PAGESIZE))[:SECTOR]
        times = []
        acquires = []
        for _ in range(cycles):
            t0 = time.perf_counter()
            acquires.append(cycle(fd, index * MiB, big, small) * 1000)
            times.append((time.perf_counter() - t0) * 1000)
        out[index] = (times, acquires)
    finally:
        os.close(fd)


def fill(path, size):
    """Writes real zeros: lease areas are written at initialisation, and reading a hole costs
    no disk I/O, which would make the floor too low."""
    with open(path, "wb") as f:
        for _ in range(size // MiB):
            f.write(bytes(MiB))
        f.flush()
        os.fsync(f.fileno())


def main():
    path, cycles, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    assert 0 < cycles <= MAX_CYCLES and 0 < threads <= MAX_THREADS
    fill(path, threads * MiB)
    single = {}
    worker(path, 0, cycles, single)
    times = sorted(single[0][0])
    acquires = sorted(single[0][1])
    results = {}
    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(path, i, cycles, results)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    print(json.dumps({
        "cycle_ms_median": times[len(times) // 2],
        "acquire_ms_median": acquires[len(acquires) // 2],
        "cycles_per_second": threads * cycles / elapsed,
        "cycle_ms": [round(t, 3) for t in single[0][0]],
    }))


if __name__ == "__main__":
    main()
