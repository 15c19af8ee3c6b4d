#!/usr/bin/python3
"""Run a command as inside a container under Docker's default seccomp
profile, as far as this crate is concerned: `pidfd_getfd(2)` fails with
EPERM (the profile allows it only with CAP_SYS_PTRACE, and its default
errno is EPERM). Everything else is allowed.

    /usr/bin/python3 tests/seccomp/deny-pidfd-getfd.py COMMAND [ARGS...]

The filter is inherited by every child and cannot be lifted. Before running
COMMAND, the script proves that the filter bites: pidfd_getfd on its own
descriptor must fail with EPERM, else it exits 3. Needs python3-seccomp
(Debian), the libseccomp binding; run it with Debian's /usr/bin/python3.
"""

import ctypes
import errno
import os
import sys

try:
    import seccomp
except ImportError:
    sys.exit("deny-pidfd-getfd: python3-seccomp is missing (apt-get install python3-seccomp)")

if len(sys.argv) < 2:
    sys.exit(__doc__)

flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
flt.add_rule(seccomp.ERRNO(errno.EPERM), "pidfd_getfd")
flt.load()

# The proof: pidfd_open works, pidfd_getfd on our own stdin is refused.
libc = ctypes.CDLL(None, use_errno=True)
nr_open = seccomp.resolve_syscall(seccomp.Arch.NATIVE, "pidfd_open")
nr_getfd = seccomp.resolve_syscall(seccomp.Arch.NATIVE, "pidfd_getfd")
pidfd = libc.syscall(nr_open, os.getpid(), 0)
if pidfd < 0:
    sys.exit(f"deny-pidfd-getfd: pidfd_open failed ({os.strerror(ctypes.get_errno())})")
got = libc.syscall(nr_getfd, pidfd, 0, 0)
if got >= 0 or ctypes.get_errno() != errno.EPERM:
    sys.exit(f"deny-pidfd-getfd: the filter did not bite (pidfd_getfd gave {got})")
os.close(pidfd)
print("deny-pidfd-getfd: pidfd_getfd now fails with EPERM, as in a container", file=sys.stderr)

os.execvp(sys.argv[1], sys.argv[1:])
