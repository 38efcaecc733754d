//! The Environment Abstraction Layer: init once per process, lcores, launching
//! Rust closures on worker lcores.

use crate::error::{Error, Result};
use crate::sys;
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Proof that the EAL is up. `rte_eal_init` works once per process: a second
/// [`Eal::init`] is an error. Dropping it calls `rte_eal_cleanup`.
pub struct Eal {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Eal {
    /// Initialises the EAL with `args` (`args[0]` is the program name).
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal> {
        if INITIALIZED.swap(true, Ordering::SeqCst) {
            return Err(Error::msg(
                "EAL init",
                "already initialised in this process (rte_eal_init works once per process)",
            ));
        }
        let cargs: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_ref()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::msg("EAL init", "argument contains a NUL byte"))?;
        // rte_eal_init may permute argv; keep the CStrings alive for the process
        // lifetime, as DPDK may keep pointers into them.
        let cargs: &'static [CString] = Box::leak(cargs.into_boxed_slice());
        let mut argv: Vec<*mut c_char> = cargs.iter().map(|c| c.as_ptr() as *mut c_char).collect();
        let argv: &'static mut [*mut c_char] = Box::leak(argv.drain(..).collect());
        // SAFETY: argv holds argc valid NUL-terminated strings that live forever.
        let ret = unsafe { sys::rte_eal_init(argv.len() as c_int, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(Error::last("EAL init"));
        }
        Ok(Eal {
            _not_send: std::marker::PhantomData,
        })
    }

    /// The lcore id of the main lcore (the thread that called init).
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: EAL is initialised.
        unsafe { sys::rte_get_main_lcore() }
    }

    /// Enabled worker lcores (all but the main one), in ascending order.
    pub fn worker_lcores(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i: u32 = u32::MAX;
        loop {
            // SAFETY: EAL is initialised; iterating the lcore table.
            i = unsafe { sys::rte_get_next_lcore(i, 1, 0) };
            if i >= sys::RTE_MAX_LCORE {
                break;
            }
            out.push(i);
        }
        out
    }

    /// The NUMA socket of an lcore.
    pub fn lcore_socket(&self, lcore: u32) -> u32 {
        // SAFETY: EAL is initialised; out-of-range ids return SOCKET_ID_ANY-ish values.
        unsafe { sys::rte_lcore_to_socket_id(lcore) }
    }

    /// The DPDK heap of NUMA socket `socket`: `(total, free)` bytes, what
    /// the EAL holds now (with hugepages and without `--legacy-mem` the
    /// heap can still grow by free hugepages). `None` for a socket without
    /// a heap.
    pub fn heap_bytes(&self, socket: i32) -> Option<(u64, u64)> {
        let mut st = sys::rte_malloc_socket_stats::default();
        // SAFETY: EAL is initialised; st is a valid out-parameter.
        let ret = unsafe { sys::rte_malloc_get_socket_stats(socket, &mut st) };
        (ret == 0).then_some((st.heap_totalsz_bytes as u64, st.heap_freesz_bytes as u64))
    }

    /// Whether EAL runs on hugepages (false with `--no-huge`).
    pub fn has_hugepages(&self) -> bool {
        // SAFETY: EAL is initialised.
        unsafe { sys::rte_eal_has_hugepages() != 0 }
    }

    /// Launches `f` on worker `lcore`. The closure runs on that lcore's EAL
    /// thread; a panic in it is caught there (it never unwinds into C) and
    /// reported by [`LcoreHandle::join`].
    pub fn launch<F>(&self, lcore: u32, f: F) -> Result<LcoreHandle>
    where
        F: FnOnce() + Send + 'static,
    {
        let outcome: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let job = Box::new(Job {
            f: Box::new(f),
            outcome: outcome.clone(),
        });
        let arg = Box::into_raw(job) as *mut c_void;
        // SAFETY: trampoline takes ownership of `arg` (a Box<Job>) exactly once.
        let ret = unsafe { sys::rte_eal_remote_launch(Some(trampoline), arg, lcore) };
        if ret < 0 {
            // SAFETY: the launch failed, so the trampoline never ran: reclaim the box.
            drop(unsafe { Box::from_raw(arg as *mut Job) });
            return Err(Error::from_errno(format!("launch on lcore {lcore}"), ret));
        }
        Ok(LcoreHandle { lcore, outcome })
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: all DPDK objects owned by safe wrappers borrow nothing from
        // Eal at the type level, so callers must drop them first; the app does.
        unsafe {
            sys::rte_eal_cleanup();
        }
    }
}

struct Job {
    f: Box<dyn FnOnce() + Send>,
    outcome: Arc<Mutex<Option<String>>>,
}

unsafe extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the Box<Job> leaked by `launch`, handed over once.
    let job = unsafe { Box::from_raw(arg as *mut Job) };
    let Job { f, outcome } = *job;
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => 0,
        Err(p) => {
            let msg = if let Some(s) = p.downcast_ref::<&str>() {
                s.to_string()
            } else if let Some(s) = p.downcast_ref::<String>() {
                s.clone()
            } else {
                "panic".to_string()
            };
            if let Ok(mut o) = outcome.lock() {
                *o = Some(msg);
            }
            -1
        }
    }
}

/// A closure running on a worker lcore.
pub struct LcoreHandle {
    lcore: u32,
    outcome: Arc<Mutex<Option<String>>>,
}

impl LcoreHandle {
    /// The lcore it runs on.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Waits for the closure to return; `Err` carries the panic message.
    pub fn join(self) -> std::result::Result<(), String> {
        // SAFETY: waits on a worker lcore we launched.
        let ret = unsafe { sys::rte_eal_wait_lcore(self.lcore) };
        let panic = self.outcome.lock().ok().and_then(|mut o| o.take());
        match (ret, panic) {
            (_, Some(msg)) => Err(format!("lcore {} panicked: {msg}", self.lcore)),
            (0, None) => Ok(()),
            (r, None) => Err(format!("lcore {} returned {r}", self.lcore)),
        }
    }
}

/// The calling thread's lcore id (`u32::MAX`, i.e. LCORE_ID_ANY, for a
/// thread that is not an EAL lcore).
#[inline]
pub fn lcore_id() -> u32 {
    // SAFETY: reads a thread-local; no preconditions.
    unsafe { sys::rte_lcore_id() }
}

/// The time-stamp counter (inline `rdtsc` on x86-64: no call into C).
#[inline(always)]
pub fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: rdtsc has no preconditions on x86-64.
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: reads the TSC; no preconditions.
    unsafe {
        sys::rte_rdtsc()
    }
}

/// TSC ticks per second (valid after EAL init).
pub fn tsc_hz() -> u64 {
    // SAFETY: no preconditions beyond EAL init, which callers hold.
    unsafe { sys::rte_get_tsc_hz() }
}

/// The calling lcore's NUMA socket (0 on a plain thread).
pub fn socket_id() -> i32 {
    // SAFETY: reads per-lcore state; no preconditions.
    unsafe { sys::rte_socket_id() as i32 }
}
