//! DPDK's own `rte_efd`, wrapped only to serve as a benchmark and test
//! reference for the native EFD. Note: in DPDK 22.11 its AVX2 lookup path
//! returns wrong values; run EAL with `--force-max-simd-bitwidth=128`.

use crate::error::{Error, Result};
use crate::sys;
use std::ffi::CString;
use std::os::raw::c_void;
use std::ptr::NonNull;

/// An `rte_efd` table with fixed-length keys and 8-bit values.
pub struct RteEfd {
    raw: NonNull<sys::rte_efd_table>,
    key_len: usize,
}

// SAFETY: rte_efd supports one writer and concurrent readers; &mut self
// guards the writer side.
unsafe impl Send for RteEfd {}
// SAFETY: lookups through &self are the multi-reader side.
unsafe impl Sync for RteEfd {}

impl RteEfd {
    /// Creates a table for `max_rules` keys of `key_len` bytes, online on socket 0.
    pub fn new(name: &str, max_rules: u32, key_len: u32) -> Result<RteEfd> {
        let what = || format!("create rte_efd {name:?}");
        let cname = CString::new(name).map_err(|_| Error::msg(what(), "NUL in name"))?;
        // SAFETY: valid C string; socket bitmask 1 = socket 0.
        let raw = unsafe { sys::rte_efd_create(cname.as_ptr(), max_rules, key_len, 1, 0) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::last(what()))?;
        Ok(RteEfd {
            raw,
            key_len: key_len as usize,
        })
    }

    /// Inserts or updates a key.
    pub fn update(&mut self, key: &[u8], value: u8) -> Result<()> {
        assert_eq!(key.len(), self.key_len, "key length");
        // SAFETY: key points to key_len readable bytes.
        let ret = unsafe { sys::rte_efd_update(self.raw.as_ptr(), 0, key.as_ptr().cast(), value) };
        if ret != 0 {
            return Err(Error::from_errno("rte_efd_update", ret.abs().max(1)));
        }
        Ok(())
    }

    /// Removes a key.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        assert_eq!(key.len(), self.key_len, "key length");
        let mut prev = 0u8;
        // SAFETY: key points to key_len readable bytes; prev is a valid out-param.
        let ret =
            unsafe { sys::rte_efd_delete(self.raw.as_ptr(), 0, key.as_ptr().cast(), &mut prev) };
        if ret != 0 {
            return Err(Error::from_errno("rte_efd_delete", ret));
        }
        Ok(())
    }

    /// Looks up one key.
    pub fn lookup(&self, key: &[u8]) -> u8 {
        assert_eq!(key.len(), self.key_len, "key length");
        // SAFETY: key points to key_len readable bytes.
        unsafe { sys::rte_efd_lookup(self.raw.as_ptr(), 0, key.as_ptr().cast()) }
    }

    /// Looks up a bulk of keys (at most 32 per call, as DPDK allows).
    pub fn lookup_bulk<const K: usize>(&self, keys: &[[u8; K]], out: &mut [u8]) {
        assert_eq!(K, self.key_len, "key length");
        assert!(keys.len() <= 32 && out.len() >= keys.len());
        let mut ptrs = [std::ptr::null::<c_void>(); 32];
        for (p, k) in ptrs.iter_mut().zip(keys) {
            *p = k.as_ptr().cast();
        }
        // SAFETY: each pointer references K == key_len bytes of `keys`, alive
        // for the call; out has room for keys.len() values.
        unsafe {
            sys::rte_efd_lookup_bulk(
                self.raw.as_ptr(),
                0,
                keys.len() as i32,
                ptrs.as_mut_ptr(),
                out.as_mut_ptr(),
            )
        }
    }
}

impl Drop for RteEfd {
    fn drop(&mut self) {
        // SAFETY: we own the table.
        unsafe { sys::rte_efd_free(self.raw.as_ptr()) }
    }
}
