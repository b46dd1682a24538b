"""
A stallable passthrough file system (FUSE, python3-fusepy; Debian names the module `fusepy`).

    python3 stall_fs.py BACKING_DIR MOUNTPOINT CONTROL_FILE MAX_STALL_SECONDS

Every file of BACKING_DIR appears under MOUNTPOINT. While CONTROL_FILE exists, every read and
write on a file of the mount blocks (the caller's system call does not return), like a storage
path that stopped answering; once it is removed they go on. A single stall is bounded: after
MAX_STALL_SECONDS the I/O fails with EIO, so a forgotten control file cannot hang a test run.

Mounted with direct_io: the kernel passes every read and write through (no page cache), which is
what lets an O_DIRECT open succeed and makes each O_DIRECT I/O reach this process.

Prints "ready" on stdout once the kernel completed the mount (FUSE init). Runs in the foreground
with one thread per request, so a blocked I/O blocks only its own caller. Unmount with
`umount -l MOUNTPOINT`; killing this process also ends the mount (pending I/Os fail).
"""
import errno
import os
import sys
import time

from fusepy import FUSE, FuseOSError, Operations

POLL_SECONDS = 0.02


class StallFs(Operations):
    def __init__(self, backing, control, max_stall):
        self.backing = os.path.realpath(backing)
        self.control = control
        self.max_stall = max_stall

    def _path(self, path):
        return os.path.join(self.backing, path.lstrip("/"))

    def _wait_while_stalled(self):
        deadline = time.monotonic() + self.max_stall
        while os.path.exists(self.control):
            if time.monotonic() >= deadline:
                raise FuseOSError(errno.EIO)
            time.sleep(POLL_SECONDS)

    def init(self, path):
        sys.stdout.write("ready\n")
        sys.stdout.flush()

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_mtime", "st_ctime")
        return {k: getattr(st, k) for k in keys}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def statfs(self, path):
        sv = os.statvfs(self._path(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")
        return {k: getattr(sv, k) for k in keys}

    def open(self, path, flags):
        # The backing file is opened without O_DIRECT: buffers from libfuse are not aligned.
        return os.open(self._path(path), flags & ~os.O_DIRECT)

    def create(self, path, mode, fi=None):
        return os.open(self._path(path), os.O_RDWR | os.O_CREAT, mode)

    def read(self, path, size, offset, fh):
        self._wait_while_stalled()
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        self._wait_while_stalled()
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        os.truncate(self._path(path), length)

    def unlink(self, path):
        os.unlink(self._path(path))

    def flush(self, path, fh):
        return 0

    def fsync(self, path, datasync, fh):
        os.fsync(fh)
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0


def main():
    if len(sys.argv) != 5:
        sys.stderr.write(__doc__)
        sys.exit(2)
    backing, mountpoint, control, max_stall = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    if not 0 < max_stall <= 3600:
        sys.exit("MAX_STALL_SECONDS must be in (0, 3600]")
    FUSE(StallFs(backing, control, max_stall), mountpoint, foreground=True, nothreads=False, direct_io=True)


if __name__ == "__main__":
    main()
