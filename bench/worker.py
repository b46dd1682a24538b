"""One benchmark client: drives a sanlock-compatible daemon through the real
python binding (`import sanlock`, the same driver for both daemons) and prints
its results as one JSON object per line on stdout.

Usage: python3 worker.py MODE, with the mode's arguments as one JSON line on
stdin (argv is too small for 1,000 resources); later stdin lines are go-ahead
signals for the interactive modes. The daemon is chosen by the
SANLOCK_RUN_DIR environment variable, as for every libsanlock client.

Timings use time.perf_counter() (monotonic); the traced mode also prints
time.time() marks, because strace's -ttt timestamps are wall-clock.
"""
import json
import sys
import time

import sanlock

# A client process may pass at most this many resources per acquire call
# (SANLK_MAX_RESOURCES); each registration below holds at most this many.
RESOURCES_PER_REGISTRATION = 8
# Upper bound for any polling loop (seconds): joins take 2*io_timeout plus
# scheduling, far less than this with io_timeout 1.
POLL_LIMIT_SECONDS = 120
POLL_INTERVAL_SECONDS = 0.01


def emit(obj):
    print(json.dumps(obj), flush=True)


def disks(res):
    return [(res["path"], res["offset"])]


def name(text):
    return text.encode()


def mode_init(args):
    """Formats lockspaces and resource leases through the daemon (untimed set-up)."""
    for ls in args["lockspaces"]:
        sanlock.write_lockspace(name(ls["name"]), ls["path"], ls["offset"], iotimeout=args["io_timeout"])
    for res in args["resources"]:
        sanlock.write_resource(name(res["lockspace"]), name(res["name"]), disks(res))
    emit({"lockspaces": len(args["lockspaces"]), "resources": len(args["resources"])})


def mode_add(args):
    start = time.perf_counter()
    sanlock.add_lockspace(name(args["name"]), args["host_id"], args["path"], args["offset"],
                          iotimeout=args["io_timeout"])
    emit({"seconds": time.perf_counter() - start})


def mode_rem(args):
    start = time.perf_counter()
    sanlock.rem_lockspace(name(args["name"]), args["host_id"], args["path"], args["offset"])
    emit({"seconds": time.perf_counter() - start})


def wait_for_lockspaces(spaces, host_id, want):
    """Polls inq_lockspace until every lockspace reports `want` (True: joined, False: left)."""
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    pending = list(spaces)
    while pending:
        if time.monotonic() > deadline:
            states = [sanlock.inq_lockspace(name(ls["name"]), host_id, ls["path"], ls["offset"]) for ls in pending]
            raise RuntimeError("%d lockspaces did not reach %s within %d s (%s: %s)" % (
                len(pending), want, POLL_LIMIT_SECONDS, ",".join(ls["name"] for ls in pending[:8]), states[:8]))
        pending = [ls for ls in pending
                   if sanlock.inq_lockspace(name(ls["name"]), host_id, ls["path"], ls["offset"]) is not want]
        if pending:
            time.sleep(POLL_INTERVAL_SECONDS)


def mode_add_many(args):
    """Joins every lockspace at once (asynchronous adds), then waits for all of them."""
    start = time.perf_counter()
    for ls in args["lockspaces"]:
        sanlock.add_lockspace(name(ls["name"]), args["host_id"], ls["path"], ls["offset"],
                              iotimeout=args["io_timeout"], wait=False)
    wait_for_lockspaces(args["lockspaces"], args["host_id"], True)
    emit({"seconds": time.perf_counter() - start})


def mode_rem_many(args):
    start = time.perf_counter()
    for ls in args["lockspaces"]:
        sanlock.rem_lockspace(name(ls["name"]), args["host_id"], ls["path"], ls["offset"], wait=False)
    wait_for_lockspaces(args["lockspaces"], args["host_id"], False)
    emit({"seconds": time.perf_counter() - start})


def acquire(fd, res, shared):
    sanlock.acquire(name(res["lockspace"]), name(res["name"]), disks(res), slkfd=fd, shared=shared)


def release(fd, res):
    sanlock.release(name(res["lockspace"]), name(res["name"]), disks(res), slkfd=fd)


def mode_cycle(args):
    """Acquire+release of one resource, `count` times after `warmup` untimed cycles."""
    fd = sanlock.register()
    res, shared = args["resource"], args["shared"]
    for _ in range(args["warmup"]):
        acquire(fd, res, shared)
        release(fd, res)
    acquire_ms, release_ms = [], []
    for _ in range(args["count"]):
        t0 = time.perf_counter()
        acquire(fd, res, shared)
        t1 = time.perf_counter()
        release(fd, res)
        t2 = time.perf_counter()
        acquire_ms.append((t1 - t0) * 1000)
        release_ms.append((t2 - t1) * 1000)
    emit({"acquire_ms": acquire_ms, "release_ms": release_ms})


def mode_traced(args):
    """Cycles separated by pauses, with wall-clock marks so that a syscall trace
    can be split into the I/O of each acquire and each release."""
    fd = sanlock.register()
    res, shared, pause = args["resource"], args["shared"], args["pause"]
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()  # the harness attaches its tracer, then says go
    marks = []
    for _ in range(args["count"]):
        marks.append(["acquire", time.time()])
        acquire(fd, res, shared)
        time.sleep(pause)
        marks.append(["release", time.time()])
        release(fd, res)
        time.sleep(pause)
    marks.append(["end", time.time()])
    emit({"marks": marks})


def mode_parallel(args):
    """One of several clients: cycles on its own resource from start_at for `duration` s."""
    fd = sanlock.register()
    res = args["resource"]
    acquire(fd, res, False)  # warm: the first acquire also opens the lease file
    release(fd, res)
    delay = args["start_at"] - time.time()
    if delay > 0:
        time.sleep(delay)
    cycles = 0
    start = time.perf_counter()
    end = start + args["duration"]
    while time.perf_counter() < end:
        acquire(fd, res, False)
        release(fd, res)
        cycles += 1
    emit({"cycles": cycles, "seconds": time.perf_counter() - start})


def mode_hold(args):
    """Acquires every given resource (8 per registration), holds them until told,
    then releases them."""
    resources = args["resources"]
    groups = [resources[i:i + RESOURCES_PER_REGISTRATION]
              for i in range(0, len(resources), RESOURCES_PER_REGISTRATION)]
    fds = [sanlock.register() for _ in groups]
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()  # start together with the other holders
    start = time.perf_counter()
    for fd, group in zip(fds, groups):
        for res in group:
            acquire(fd, res, False)
    emit({"acquire_seconds": time.perf_counter() - start})
    sys.stdin.readline()  # the harness has sampled the daemon
    start = time.perf_counter()
    for fd, group in zip(fds, groups):
        for res in group:
            release(fd, res)
    emit({"release_seconds": time.perf_counter() - start})


MODES = {
    "init": mode_init,
    "add": mode_add,
    "rem": mode_rem,
    "add-many": mode_add_many,
    "rem-many": mode_rem_many,
    "cycle": mode_cycle,
    "traced": mode_traced,
    "parallel": mode_parallel,
    "hold": mode_hold,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        sys.exit("usage: worker.py {%s} < JSON-LINE" % ",".join(MODES))
    try:
        MODES[sys.argv[1]](json.loads(sys.stdin.readline()))
    except sanlock.SanlockException as err:
        emit({"error": str(err), "errno": err.errno})
        sys.exit(1)
