//! Helpers shared by the EFD tests and benchmark.

/// A small deterministic PRNG for test and benchmark keys (the crate's
/// splitmix64).
pub struct Rng(efd_lb::rng::SplitMix64);

#[allow(dead_code)]
impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(efd_lb::rng::SplitMix64::new(seed))
    }

    /// The next 64-bit value.
    pub fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}
