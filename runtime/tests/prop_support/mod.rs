//! Case counts for the property tests: small and fixed-seeded under `cargo test` (seconds, same cases
//! every run), large and randomly seeded under `scripts/fuzz.sh` (`FUZZ=1`).
//!
//! * `FUZZ=1`: random seed, `small × FUZZ_FACTOR` cases (`FUZZ_FACTOR` default 200).
//! * `PROPTEST_CASES=N`: exactly N cases, in either mode.
#![allow(dead_code)]

use proptest::test_runner::{Config, RngSeed};

/// The seed of the `cargo test` runs; a fuzz run that finds a failure prints the shrunk input, which
/// is then kept as a named regression test.
const FIXED_SEED: u64 = 0x0013_5eed;

pub fn fuzzing() -> bool {
    std::env::var_os("FUZZ").is_some_and(|v| v != "0" && !v.is_empty())
}

fn env_number(name: &str) -> Option<u32> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The configuration of property `name`, whose `cargo test` run has `small` cases.
pub fn config(name: &str, small: u32) -> Config {
    let fuzz = fuzzing();
    let cases = env_number("PROPTEST_CASES").unwrap_or(if fuzz {
        small.saturating_mul(env_number("FUZZ_FACTOR").unwrap_or(200))
    } else {
        small
    });
    eprintln!(
        "[property] {name}: {cases} cases ({})",
        if fuzz {
            "fuzz, random seed"
        } else {
            "fixed seed"
        }
    );
    Config {
        cases,
        failure_persistence: None,
        rng_seed: if fuzz {
            RngSeed::Random
        } else {
            RngSeed::Fixed(FIXED_SEED)
        },
        ..Config::default()
    }
}
