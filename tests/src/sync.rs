//! The one way to take a std mutex here.

use std::sync::{Mutex, MutexGuard};

/// Poisoning only follows a panic we injected on purpose; the data is still consistent.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
