//! Duplicating one of this process's own descriptors by its number: the
//! crate's one exception to `forbid(unsafe_code)`.
//!
//! [`sockets`](super::sockets) must reach the sockets that tiny_http owns
//! (to shut down a refused connection; see its module docs). It finds them
//! by number under `/proc/self/fd`. 0.2 duplicated them with
//! `pidfd_getfd(2)` on its own pid, which needs no `unsafe` but is a
//! system call that Docker's default seccomp profile (and so Home
//! Assistant OS's and most container hosts') denies to containers without
//! `CAP_SYS_PTRACE`: inside a container every refused connection then
//! stayed open until the read timeout and smuggled requests behind refused
//! framing were served. `fcntl(F_DUPFD_CLOEXEC)` does the same for a
//! process's own descriptor and is allowed by every container profile,
//! but Rust's I/O-safety rules ask for a [`BorrowedFd`], which can only be
//! made from a number with `unsafe`.
//!
//! # Safety argument
//!
//! `BorrowedFd::borrow_raw` requires the descriptor to stay open for as
//! long as the borrow lives. Here the borrow lives for exactly one
//! `fcntl(F_DUPFD_CLOEXEC)` call, and nothing else is done through it: no
//! read, no write, no close. If tiny_http closes that number concurrently,
//! the kernel either duplicates it before the close (we get a valid
//! duplicate of the socket, which keeps the socket alive until we drop it)
//! or fails with `EBADF`, or, if the number was reused meanwhile,
//! duplicates whatever now holds it. The call is atomic in the kernel, so
//! no memory is at stake in any case, and the result is a descriptor this
//! code owns. The callers then treat the duplicate as untrusted: they check
//! that it is a socket with the expected addresses, and a duplicate that is
//! not a socket is leaked rather than closed (closing a duplicate of a
//! regular file would release the process's POSIX locks on it). This is
//! exactly what `pidfd_getfd(2)` on one's own pid does, with the same race.
//!
//! `.ci/run` checks that no other module allows `unsafe_code`.

#![allow(unsafe_code)]

use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

/// A new descriptor (close-on-exec) for the file open at `number` in this
/// process now, or the error `fcntl` gave (`EBADF` for a closed number).
pub(crate) fn duplicate(number: RawFd) -> std::io::Result<OwnedFd> {
    if number < 0 {
        return Err(std::io::Error::from_raw_os_error(
            rustix::io::Errno::BADF.raw_os_error(),
        ));
    }
    // SAFETY: see the module docs: the borrow is used for this one atomic
    // duplication only, and its result is checked by the callers.
    let borrowed = unsafe { BorrowedFd::borrow_raw(number) };
    rustix::io::fcntl_dupfd_cloexec(borrowed, 0).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn a_duplicate_reaches_the_same_file() {
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let copy = std::os::unix::net::UnixStream::from(duplicate(b.as_raw_fd()).unwrap());
        assert_ne!(copy.as_raw_fd(), b.as_raw_fd());
        a.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        (&copy).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"x");
    }

    #[test]
    fn a_number_that_holds_nothing_is_an_error() {
        assert!(duplicate(-1).is_err());
        // Far above any descriptor this test process holds.
        let err = duplicate(1 << 20).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(rustix::io::Errno::BADF.raw_os_error())
        );
    }
}
