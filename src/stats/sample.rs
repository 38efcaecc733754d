//! One flow key handed from a worker to the stats reader: the key of a
//! packet a node's filter dropped, so that the stats screen can name a flow
//! the node does not own (a counter says how many, not which).
//!
//! A hand-off, not a queue: the reader arms the slot (`want`); the worker,
//! on a burst with filter drops, sees it armed (one relaxed load), writes
//! one dropped key and disarms it; the reader takes that key, keeps it as
//! the latest, and arms the slot again. At most one key per reading, and
//! the worker pays nothing more while the slot is disarmed.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Mutex;

/// The widest key a slot holds (the 37-byte 5-tuples; every key kind fits).
pub const MAX_KEY_BYTES: usize = 40;

/// A hand-off slot for one key's bytes (see the module doc).
#[derive(Debug)]
pub struct KeySample {
    /// Armed by the reader, disarmed by the worker once it wrote a key.
    want: AtomicBool,
    /// Length of the key in `bytes`.
    len: AtomicU8,
    /// The key, in `FlowKey::to_bytes` form.
    bytes: [AtomicU8; MAX_KEY_BYTES],
    /// The latest key taken, kept until the next one.
    latest: Mutex<Option<Vec<u8>>>,
}

impl Default for KeySample {
    fn default() -> Self {
        KeySample {
            want: AtomicBool::new(true),
            len: AtomicU8::new(0),
            bytes: std::array::from_fn(|_| AtomicU8::new(0)),
            latest: Mutex::new(None),
        }
    }
}

impl KeySample {
    /// Whether the reader wants a key (the worker's check, one relaxed load;
    /// [`KeySample::offer`] checks again with the ordering it needs).
    #[inline(always)]
    pub fn wanted(&self) -> bool {
        self.want.load(Ordering::Relaxed)
    }

    /// The worker: writes `key` if the slot is armed, and disarms it. A key
    /// longer than [`MAX_KEY_BYTES`] is cut there (none of the kinds is).
    pub fn offer(&self, key: &[u8]) {
        // Acquire: the reader's reads of the last key are done.
        if !self.want.load(Ordering::Acquire) {
            return;
        }
        let n = key.len().min(MAX_KEY_BYTES);
        for (slot, &b) in self.bytes.iter().zip(&key[..n]) {
            slot.store(b, Ordering::Relaxed);
        }
        self.len.store(n as u8, Ordering::Relaxed);
        // Release: the bytes are written before the reader sees the slot
        // disarmed.
        self.want.store(false, Ordering::Release);
    }

    /// The reader: the key written since the last call if any (then the
    /// slot is armed again), else the latest one before; `None` until a
    /// worker wrote one.
    pub fn latest(&self) -> Option<Vec<u8>> {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        // Acquire: the worker's writes of the key are visible.
        if !self.want.load(Ordering::Acquire) {
            let n = usize::from(self.len.load(Ordering::Relaxed));
            *latest = Some(
                self.bytes[..n]
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .collect(),
            );
            // Release: the bytes are read before the worker may write again.
            self.want.store(true, Ordering::Release);
        }
        latest.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_per_reading_and_the_latest_is_kept() {
        let s = KeySample::default();
        assert!(s.wanted());
        assert_eq!(s.latest(), None);
        s.offer(&[1, 2, 3, 4]);
        assert!(!s.wanted());
        // Disarmed: a second key waits for the reader.
        s.offer(&[9; 13]);
        assert_eq!(s.latest(), Some(vec![1, 2, 3, 4]));
        assert!(s.wanted());
        // Nothing new: the latest stays.
        assert_eq!(s.latest(), Some(vec![1, 2, 3, 4]));
        s.offer(&[7; 37]);
        assert_eq!(s.latest(), Some(vec![7; 37]));
    }

    #[test]
    fn a_reader_and_a_writer_on_two_threads_hand_off_whole_keys() {
        let s = std::sync::Arc::new(KeySample::default());
        let w = s.clone();
        let writer = std::thread::spawn(move || {
            for i in 0..200_000u32 {
                // Every key is one byte repeated: a torn key would mix two.
                w.offer(&[i as u8; 37]);
            }
        });
        let mut seen = 0;
        while !writer.is_finished() || seen == 0 {
            if let Some(k) = s.latest() {
                assert!(k.len() == 37 && k.iter().all(|&b| b == k[0]), "{k:?}");
                seen += 1;
            }
        }
        writer.join().unwrap();
        assert!(seen > 0);
    }
}
