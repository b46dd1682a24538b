#!/usr/bin/env bash
# Everything a fresh machine needs before sanlock-ts builds and its tests run:
# pnpm, Debian's sanlock + python3-sanlock (interop tests drive the real thing), the workspace's
# packages (native addons fs-ext and ioctl are built by pnpm: see onlyBuiltDependencies), and the build.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=$(node -p 'require("./package.json").packageManager.split("@")[1]')

if ! command -v sanlock >/dev/null 2>&1 || ! /usr/bin/python3 -c 'import sanlock' >/dev/null 2>&1; then
  echo "setup: installing Debian's sanlock and python3-sanlock"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sanlock python3-sanlock >/dev/null
fi
# python3-fusepy serves the stallable FUSE file of the renewal-lateness test (a device that really hangs).
/usr/bin/python3 -c 'import fusepy' >/dev/null 2>&1 || /usr/bin/python3 -c 'import fuse' >/dev/null 2>&1 || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-fusepy >/dev/null
}
# The SAM reference test compiles a program against corosync's libsam (libsam-dev: sam.h, libsam.so)
# with gcc and pkg-config; setpriv (util-linux) gives supervised instances PDEATHSIG.
if ! command -v gcc >/dev/null 2>&1 || ! command -v pkg-config >/dev/null 2>&1 || [ ! -e /usr/include/corosync/sam.h ]; then
  echo "setup: installing gcc, pkg-config and libsam-dev (corosync's SAM library)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc pkg-config libsam-dev >/dev/null
fi
# libvirt's sanlock plugin, a libvirtd and QEMU: the lock-manager reference tests (test/lockmanager-libvirt.test.ts)
# run a private libvirtd whose guests take their disk leases through the plugin. About 20 s from Debian's mirror
# when the packages are cached, a few minutes otherwise (measured 17 s here). The qemu driver refuses to start
# without the libvirt-qemu account, which the libvirt-daemon-system package (not installed) would create.
if ! command -v libvirtd >/dev/null 2>&1 || ! command -v virsh >/dev/null 2>&1 || ! command -v qemu-system-x86_64 >/dev/null 2>&1 \
  || [ ! -e /usr/lib/x86_64-linux-gnu/libvirt/lock-driver/sanlock.so ]; then
  echo "setup: installing libvirt (daemon, qemu driver, sanlock plugin, clients) and qemu-system-x86"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-sanlock libvirt-clients qemu-system-x86 >/dev/null
fi
# strace records the requests libvirtd's plugin sends (scenario 14 of docs/lockmanager.md §10).
command -v strace >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null
getent group libvirt-qemu >/dev/null 2>&1 || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null 2>&1 || useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
# losetup (util-linux) makes the 4K-sector loop devices of the interop tests.
command -v losetup >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq util-linux >/dev/null

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1
fi

pnpm install --frozen-lockfile --reporter=silent
pnpm build
