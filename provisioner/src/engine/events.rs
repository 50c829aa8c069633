//! What the engine tells whoever is watching, as it happens.

use crate::resources::Key;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        key: Key,
        kind: String,
        name: String,
        verb: String,
    },
    Note {
        message: String,
    },
    Done {
        key: Key,
        kind: String,
        name: String,
        verb: String,
        seconds: f64,
    },
    Failed {
        key: Key,
        kind: String,
        name: String,
        error: String,
    },
    Skipped {
        key: Key,
        because: String,
    },
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: Event);
}

/// Progress lines on stderr, for people.
pub struct Human;

impl Reporter for Human {
    fn event(&self, event: Event) {
        match event {
            Event::Started {
                kind, name, verb, ..
            } => eprintln!("  … {verb} {kind} {name}"),
            Event::Done {
                kind,
                name,
                verb,
                seconds,
                ..
            } => eprintln!("  ✓ {verb} {kind} {name} ({seconds:.1}s)"),
            Event::Failed {
                kind, name, error, ..
            } => eprintln!("  ✗ {kind} {name}: {error}"),
            Event::Skipped { key, because } => eprintln!("  - skipped {key}: {because}"),
            Event::Note { message } => eprintln!("    {message}"),
        }
    }
}

/// Nothing on the terminal: machine output is the summary on stdout.
pub struct Quiet;

impl Reporter for Quiet {
    fn event(&self, _event: Event) {}
}
