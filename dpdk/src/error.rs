//! Errors from DPDK calls, carrying `rte_strerror` text.

use std::ffi::CStr;
use std::fmt;

/// A failed DPDK call: what was attempted and DPDK's explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What the caller was doing, e.g. `configure port 0`.
    pub what: String,
    /// The (positive) errno value reported by DPDK, 0 if none.
    pub errno: i32,
    /// `rte_strerror(errno)` or a plain message.
    pub message: String,
}

/// Result alias for DPDK calls.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error for `errno` (sign ignored), with DPDK's text for it.
    pub fn from_errno(what: impl Into<String>, errno: i32) -> Self {
        let errno = errno.abs();
        Error {
            what: what.into(),
            errno,
            message: strerror(errno),
        }
    }

    /// An error for the current `rte_errno`.
    pub fn last(what: impl Into<String>) -> Self {
        Self::from_errno(what, rte_errno())
    }

    /// An error that is not an errno.
    pub fn msg(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            what: what.into(),
            errno: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.message)
    }
}

impl std::error::Error for Error {}

/// The calling thread's `rte_errno`.
pub fn rte_errno() -> i32 {
    // SAFETY: reads a thread-local int through a C helper; no preconditions.
    unsafe { crate::sys::efdlb_rte_errno() }
}

/// DPDK's text for an errno value (covers both libc and DPDK's own codes).
pub fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // NUL-terminated string, valid until the next call on this thread; we copy it.
    unsafe {
        let p = crate::sys::rte_strerror(errno);
        if p.is_null() {
            format!("error {errno}")
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// Turns a negative return code into an error (DPDK's `ret < 0` convention).
pub(crate) fn check(what: impl FnOnce() -> String, ret: i32) -> Result<i32> {
    if ret < 0 {
        Err(Error::from_errno(what(), ret))
    } else {
        Ok(ret)
    }
}
