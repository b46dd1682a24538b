# Exercises the sanlock Python API (Debian python3-sanlock 3.8.5) against the daemon named by
# SANLOCK_RUN_DIR and prints one line per call: "<step> ok <stable result>" or
# "<step> err <errno>". Run against the real daemon and against sanlock-ts: the outputs must
# be identical. Values that differ between runs (generations, timestamps, the lease directory)
# are left out or replaced.
#
# usage: SANLOCK_RUN_DIR=<dir> python3 handlers-api-probe.py <lease-dir>
import os
import sys
import time

import sanlock

WORK = sys.argv[1]
LS = b"PROBE"
LSFILE = os.path.join(WORK, "ls.lease")
RESFILE = os.path.join(WORK, "res.lease")
MB = 1048576
R1 = [(RESFILE, 0)]
R2 = [(RESFILE, MB)]
R3 = [(RESFILE, 2 * MB)]
R4 = [(RESFILE, 3 * MB)]


def stable(value):
    text = repr(value)
    return text.replace(WORK, "<dir>")


def call(step, fn, *args, **kwargs):
    try:
        result = fn(*args, **kwargs)
    except sanlock.SanlockException as e:
        print(step, "err", e.errno, flush=True)
        return None
    except Exception as e:  # noqa: BLE001 - the type name is what we compare
        print(step, "exc", type(e).__name__, flush=True)
        return None
    print(step, "ok", stable(result), flush=True)
    return result


def hosts_summary(hosts):
    return [(h["host_id"], h["flags"], h["io_timeout"]) for h in hosts]


def lockspaces_summary(spaces):
    return [(s["lockspace"], s["host_id"], s["offset"], s["flags"]) for s in spaces]


def owners_summary(owners):
    return [(o["host_id"], o["flags"]) for o in owners]


open(LSFILE, "wb").truncate(MB)
open(RESFILE, "wb").truncate(4 * MB)

# Formatting and reading areas (no lockspace needed).
call("write_lockspace", sanlock.write_lockspace, LS, LSFILE, iotimeout=1)
call("read_lockspace", sanlock.read_lockspace, LSFILE)
call("read_lockspace_bad_offset", sanlock.read_lockspace, RESFILE, offset=MB)
call("get_alignment", sanlock.get_alignment, LSFILE)
for name, disks in ((b"R1", R1), (b"R2", R2), (b"R3", R3), (b"R4", R4)):
    call("write_resource_" + name.decode(), sanlock.write_resource, LS, name, disks)
call("read_resource", sanlock.read_resource, RESFILE, MB)
call("read_resource_owners_free", lambda: owners_summary(sanlock.read_resource_owners(LS, b"R1", R1)))

# Bad input: misaligned or out-of-range offsets, a directory as a lease path.
call("read_resource_beyond_end", sanlock.read_resource, RESFILE, 64 * MB)
call("read_resource_misaligned", sanlock.read_resource, RESFILE, 100)
call("read_lockspace_directory", sanlock.read_lockspace, WORK)
call("write_resource_directory", sanlock.write_resource, LS, b"RD", [(WORK, 0)])
call("add_host_id_2001", sanlock.add_lockspace, LS, 2001, LSFILE, iotimeout=1)
call("add_missing_path", sanlock.add_lockspace, b"MISSING", 1, os.path.join(WORK, "missing"), iotimeout=1)
call("add_not_a_lockspace", sanlock.add_lockspace, b"NOTLS", 1, RESFILE, iotimeout=1)

# Lockspace membership.
call("inq_before", sanlock.inq_lockspace, LS, 1, LSFILE)
call("add_empty_name", sanlock.add_lockspace, b"", 1, LSFILE, iotimeout=1)
call("add", sanlock.add_lockspace, LS, 1, LSFILE, iotimeout=1)
call("add_again", sanlock.add_lockspace, LS, 1, LSFILE, iotimeout=1)
call("add_other_host_id", sanlock.add_lockspace, LS, 2, LSFILE, iotimeout=1)
call("inq_joined", sanlock.inq_lockspace, LS, 1, LSFILE)
call("inq_wrong_host", sanlock.inq_lockspace, LS, 3, LSFILE)
call("get_lockspaces", lambda: lockspaces_summary(sanlock.get_lockspaces()))
time.sleep(4)  # at least one renewal (2 s apart with io_timeout 1) has looked at the other hosts
call("get_hosts", lambda: hosts_summary(sanlock.get_hosts(LS)))
call("get_hosts_one", lambda: hosts_summary(sanlock.get_hosts(LS, 1)))
call("get_hosts_unknown", sanlock.get_hosts, b"NOSUCH")

# Resource leases for this process.
fd = sanlock.register()
call("acquire_ex", sanlock.acquire, LS, b"R1", R1, slkfd=fd)
call("acquire_ex_again", sanlock.acquire, LS, b"R1", R1, slkfd=fd)
call("acquire_sh", sanlock.acquire, LS, b"R2", R2, slkfd=fd, shared=True)
call("acquire_lvb", sanlock.acquire, LS, b"R3", R3, slkfd=fd, lvb=True)
call("acquire_wrong_name", sanlock.acquire, LS, b"RX", R4, slkfd=fd)
call("acquire_wrong_version", sanlock.acquire, LS, b"R4", R4, slkfd=fd, version=7)
call("acquire_no_lockspace", sanlock.acquire, b"NOLS", b"R4", R4, slkfd=fd)
call("acquire_missing_path", sanlock.acquire, LS, b"R4", [(os.path.join(WORK, "missing"), 0)], slkfd=fd)
call("acquire_beyond_end", sanlock.acquire, LS, b"R4", [(RESFILE, 64 * MB)], slkfd=fd)
call("acquire_misaligned", sanlock.acquire, LS, b"R4", [(RESFILE, 100)], slkfd=fd)
call("request_not_held_lockspace", sanlock.request, b"NOLS", b"R4", R4)
call("acquire_unregistered_pid", sanlock.acquire, LS, b"R4", R4, pid=999999)
call("inquire", sanlock.inquire, slkfd=fd)
call("inquire_pid", sanlock.inquire, pid=os.getpid())
call("owners_ex", lambda: owners_summary(sanlock.read_resource_owners(LS, b"R1", R1)))
call("owners_sh", lambda: owners_summary(sanlock.read_resource_owners(LS, b"R2", R2)))
call("set_lvb_without_lvb", sanlock.set_lvb, LS, b"R1", R1, b"x")
call("set_lvb", sanlock.set_lvb, LS, b"R3", R3, b"hello")
call("get_lvb", sanlock.get_lvb, LS, b"R3", R3, 5)
call("set_lvb_not_held", sanlock.set_lvb, LS, b"R4", R4, b"x")
call("request_free", sanlock.request, LS, b"R4", R4)
call("release_R1", sanlock.release, LS, b"R1", R1, slkfd=fd)
call("release_R1_again", sanlock.release, LS, b"R1", R1, slkfd=fd)
call("read_resource_after_release", lambda: sanlock.read_resource(RESFILE, 0)["version"])
call("release_R2", sanlock.release, LS, b"R2", R2, slkfd=fd)
call("release_R3", sanlock.release, LS, b"R3", R3, slkfd=fd)
call("inquire_empty", sanlock.inquire, slkfd=fd)
call("acquire_version_next", sanlock.acquire, LS, b"R1", R1, slkfd=fd, version=1)
call("release_R1_version", sanlock.release, LS, b"R1", R1, slkfd=fd)

# Events.
efd = call("reg_event", lambda: sanlock.reg_event(LS) >= 0)
call("set_event_host0", sanlock.set_event, LS, 0, 0, 1)
call("set_event_unknown_ls", sanlock.set_event, b"NOSUCH", 2, 0, 1)
call("set_event", sanlock.set_event, LS, 2, 0, 1)
call("set_event_busy", sanlock.set_event, LS, 2, 0, 2)
call("set_event_replace", sanlock.set_event, LS, 2, 0, 3, flags=sanlock.SETEV_REPLACE_EVENT)
call("reg_event_unknown", sanlock.reg_event, b"NOSUCH")

# Leaving.
call("rem_wrong_host", sanlock.rem_lockspace, LS, 2, LSFILE)
call("rem", sanlock.rem_lockspace, LS, 1, LSFILE)
call("inq_after_rem", sanlock.inq_lockspace, LS, 1, LSFILE)
call("get_hosts_after_rem", sanlock.get_hosts, LS)
call("rem_again", sanlock.rem_lockspace, LS, 1, LSFILE)

# Asynchronous add / remove.
call("add_async", sanlock.add_lockspace, LS, 1, LSFILE, iotimeout=1, wait=False)
call("inq_async_wait", sanlock.inq_lockspace, LS, 1, LSFILE, wait=True)
call("rem_async", sanlock.rem_lockspace, LS, 1, LSFILE, wait=False)
call("inq_rem_wait", sanlock.inq_lockspace, LS, 1, LSFILE, wait=True)
print("done", flush=True)
