//! Exit codes, the same for every command (`CliError::exit_code` maps every error to one).

/// Done; for `drift`: in sync.
pub const OK: u8 = 0;
/// Something failed, or the input was bad.
pub const ERROR: u8 = 1;
/// `drift`: live state differs from the environment file.
pub const DRIFT: u8 = 2;
/// Another run holds the environment's lock (and kept it past `--lock-timeout`).
pub const LOCKED: u8 = 3;
