/**
 * Peer credentials of an accepted unix socket: getsockopt(fd, SOL_SOCKET, SO_PEERCRED).
 *
 * REGISTER records the pid of the process that connected (docs/wire.md §5.2), and every
 * "by pid" command finds its target through it, so the pid must come from the kernel,
 * not from anything the client says. Node exposes no SO_PEERCRED (net.Socket has no
 * getsockopt), so we call libc's getsockopt through koffi, an FFI that installs prebuilt
 * binaries from the npm registry (no compiler needed), on the descriptor libuv holds for
 * the accepted socket. The credentials are those captured by the kernel at connect() time.
 */
import { SanlockTsError } from "@sanlock-ts/core";
import type { Socket } from "node:net";
import { libcFunction } from "./libc.js";

/** Linux values (asm-generic/socket.h): SOL_SOCKET 1, SO_PEERCRED 17. */
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; } — three 32-bit fields. */
const UCRED_SIZE = 12;

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

export class PeerCredError extends SanlockTsError {
  override readonly name = "PeerCredError";
}

type GetSockOpt = (fd: number, level: number, name: number, value: Uint8Array, length: Uint32Array) => number;

function libcGetsockopt(): GetSockOpt {
  return libcFunction<GetSockOpt>("int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)");
}

/** Credentials of the process at the other end of a connected unix socket descriptor. */
export function peerCredentialsOfFd(fd: number): PeerCredentials {
  if (!Number.isInteger(fd) || fd < 0) {
    throw new PeerCredError("ERR_DAEMON_NO_SOCKET_FD", `peer credentials: invalid descriptor ${fd}`);
  }
  const value = new Uint8Array(UCRED_SIZE);
  const length = new Uint32Array([UCRED_SIZE]);
  const rv = libcGetsockopt()(fd, SOL_SOCKET, SO_PEERCRED, value, length);
  if (rv !== 0 || length[0] !== UCRED_SIZE) {
    throw new PeerCredError("ERR_DAEMON_PEERCRED", `getsockopt(SO_PEERCRED) failed on fd ${fd}`);
  }
  const view = new DataView(value.buffer);
  return { pid: view.getInt32(0, true), uid: view.getUint32(4, true), gid: view.getUint32(8, true) };
}

/** The descriptor libuv holds for a net.Socket (a unix Pipe handle exposes it as `fd`). */
export function socketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
  const fd = handle?.fd;
  if (typeof fd !== "number" || fd < 0) {
    throw new PeerCredError("ERR_DAEMON_NO_SOCKET_FD", "peer credentials: socket has no descriptor (closed?)");
  }
  return fd;
}

/** Credentials of the peer of an accepted unix socket. */
export function peerCredentials(socket: Socket): PeerCredentials {
  return peerCredentialsOfFd(socketFd(socket));
}
