//! `provision verify`: proves a deployed pipeline moves data (filled in by the end-to-end work).

use crate::resources::Ctx;
use std::time::Duration;

pub async fn run(_ctx: &Ctx, _timeout: Duration, _json: bool) -> u8 {
    eprintln!("error: verify is not implemented yet");
    crate::cli::exit_code::ERROR
}
