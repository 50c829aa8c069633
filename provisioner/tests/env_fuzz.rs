//! The environment-file parser over mutated files (issue 13): whatever the text, `env::parse`
//! returns an environment that obeys every documented rule, or `EnvError::Invalid` listing at least
//! one problem with its place; it never panics and never echoes a secret.
//!
//! Seeded `rand` (the provisioner's own dependency) rather than proptest: cases are mutations of the
//! real files in `environments/`, each reproducible from the seed printed on failure.
//! Case counts: 300 under `cargo test`; `FUZZ=1` (scripts/fuzz.sh) runs 300 × `FUZZ_FACTOR`
//! (default 200) from a random first seed; `PROPTEST_CASES=N` sets N in either mode.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use provisioner::env::{parse, EnvError, Environment};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const SECRET: &str = "Zq8~fuzz-secret-value";

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn fuzzing() -> bool {
    std::env::var_os("FUZZ").is_some_and(|v| v != "0" && !v.is_empty())
}

/// `(first seed, cases)`.
fn plan(small: u64) -> (u64, u64) {
    let fuzz = fuzzing();
    let cases = env_number("PROPTEST_CASES").unwrap_or(if fuzz {
        small * env_number("FUZZ_FACTOR").unwrap_or(200)
    } else {
        small
    });
    let first = if fuzz { rand::random() } else { 0x0013_e4f1 };
    eprintln!(
        "[property] provisioner env_files_parse_or_list_their_problems: {cases} cases ({})",
        if fuzz {
            "fuzz, random seed"
        } else {
            "fixed seed"
        }
    );
    (first, cases)
}

fn seeds() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no environment files in {}",
        dir.display()
    );
    files
}

/// Lines that could appear in an environment file, valid and not.
const LINES: &[&str] = &[
    "name = \"dev\"",
    "name = \"Dev-Env\"",
    "name = \"abcdefghijklm\"",
    "name = 7",
    "subscription = \"00000000-0000-4000-8000-0000000000a1\"",
    "subscription = \"not-a-guid\"",
    "tenant = \"72f988bf-0000-4000-8000-00000000e001\"",
    "tenant = \"\"",
    "location = \"westeurope\"",
    "location = \"West Europe\"",
    "prefix = \"superhero\"",
    "prefix = \"abcdefghijk\"",
    "prefix = \"1abc\"",
    "suffix = \"ab12\"",
    "suffix = \"AB\"",
    "[plan]",
    "sku = \"Y1\"",
    "sku = \"P9\"",
    "[security_group]",
    "members = [\"00000000-0000-4000-8000-0000000000b2\"]",
    "members = [\"x\", 3]",
    "members = \"all\"",
    "unique_name = \"a b\"",
    "[tags]",
    "managed-by = \"me\"",
    "team = 3",
    "[package]",
    "access = \"identity\"",
    "access = \"ftp\"",
    "sas_lifetime_days = 0",
    "sas_lifetime_days = 99999",
    "sas_renew_within_days = -1",
    "sas_lifetime_days = \"ten\"",
    "[auth]",
    "method = \"azure-cli\"",
    "method = \"magic\"",
    "client_id = \"nope\"",
    "[endpoints]",
    "authority = \"http://example.com\"",
    "graph = \"https://graph.example\"",
    "resource_manager = \"http://127.0.0.1:9/arm\"",
    "[[tags]]",
    "colour = \"blue\"",
    "plan = \"B1\"",
    "x = { a = 1 }",
    "[plan.sub]",
    "name = \"é\"",
];

const NOISE: &[&str] = &[
    "\"", "'", "[", "]", "=", "\n", "{", "}", ",", "#", "\\", "é", "日本", "\u{0}", "\t", "\r\n",
    "\"\"\"", "'''", ".", "-", "1e400", "\u{feff}",
];

fn char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(rng: &mut StdRng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for _ in 0..rng.gen_range(1..=4) {
        match rng.gen_range(0..8) {
            0 if !lines.is_empty() => {
                let i = rng.gen_range(0..lines.len());
                lines.remove(i);
            }
            1 if !lines.is_empty() => {
                let i = rng.gen_range(0..lines.len());
                let line = lines[i].clone();
                lines.insert(i, line);
            }
            2 if lines.len() > 1 => {
                let (a, b) = (rng.gen_range(0..lines.len()), rng.gen_range(0..lines.len()));
                lines.swap(a, b);
            }
            3 | 4 => {
                let i = rng.gen_range(0..=lines.len());
                lines.insert(i, (*LINES.choose(rng).unwrap()).to_owned());
            }
            5 => {
                let i = rng.gen_range(0..=lines.len());
                lines.insert(i, format!("[auth]\nclient_secret = \"{SECRET}\""));
            }
            _ => {
                let mut joined = lines.join("\n");
                let at = char_boundary(&joined, rng.gen_range(0..=joined.len()));
                if rng.gen_bool(0.3) {
                    joined.truncate(at);
                } else {
                    joined.insert_str(at, NOISE.choose(rng).unwrap());
                }
                lines = joined.lines().map(str::to_owned).collect();
            }
        }
    }
    lines.join("\n")
}

fn lower_alnum(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// The documented rules (README, env.rs) an accepted environment satisfies.
fn check_valid(env: &Environment) -> Result<(), String> {
    let rule = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_owned()) };
    rule(
        !env.name.is_empty() && env.name.len() <= 12 && lower_alnum(&env.name),
        "name",
    )?;
    rule(
        uuid::Uuid::parse_str(&env.subscription).is_ok(),
        "subscription",
    )?;
    rule(uuid::Uuid::parse_str(&env.tenant).is_ok(), "tenant")?;
    rule(
        !env.location.is_empty() && lower_alnum(&env.location),
        "location",
    )?;
    rule(
        (1..=10).contains(&env.prefix.len())
            && lower_alnum(&env.prefix)
            && env.prefix.starts_with(|c: char| c.is_ascii_lowercase()),
        "prefix",
    )?;
    rule(
        (4..=6).contains(&env.suffix.len()) && lower_alnum(&env.suffix),
        "suffix",
    )?;
    rule(
        (1..=3650).contains(&env.sas_lifetime_days),
        "sas_lifetime_days",
    )?;
    rule(
        (0..env.sas_lifetime_days).contains(&env.sas_renew_within_days),
        "sas_renew_within_days",
    )?;
    rule(
        !env.tags.contains_key("managed-by") && !env.tags.contains_key("environment"),
        "reserved tags",
    )?;
    rule(
        env.group_members
            .iter()
            .all(|m| uuid::Uuid::parse_str(m).is_ok()),
        "members",
    )?;
    let names = provisioner::names::Names::derive(&env.prefix, &env.name, &env.suffix);
    for account in [
        &names.raw_account,
        &names.standard_account,
        &names.functions_account,
    ] {
        rule(
            (3..=24).contains(&account.len()) && lower_alnum(account),
            "storage account name",
        )?;
    }
    Ok(())
}

/// Whether the file was accepted (`Ok(true)`) or rejected with its problems (`Ok(false)`).
fn check(text: &str) -> Result<bool, String> {
    match parse(text, Path::new("environments/dev.toml")) {
        Ok(env) => {
            if text.contains(SECRET) {
                return Err("a file with a client_secret was accepted".into());
            }
            check_valid(&env).map_err(|rule| format!("accepted but breaks the {rule} rule"))?;
            Ok(true)
        }
        Err(EnvError::Invalid { problems, .. }) => {
            if problems.is_empty() {
                return Err("rejected without a problem".into());
            }
            if problems
                .iter()
                .any(|p| p.place.is_empty() || p.message.is_empty())
            {
                return Err(format!("a problem without place or message: {problems:?}"));
            }
            let shown = parse(text, Path::new("environments/dev.toml"))
                .unwrap_err()
                .to_string();
            if shown.contains(SECRET) {
                return Err("the secret is echoed".into());
            }
            Ok(false)
        }
        Err(other) => Err(format!("unexpected error kind: {other}")),
    }
}

#[test]
fn env_files_parse_or_list_their_problems() {
    let files = seeds();
    for file in &files {
        assert_eq!(check(file), Ok(true), "a committed environment file");
    }
    let (first, cases) = plan(300);
    let mut accepted = 0u64;
    for case in 0..cases {
        let seed = first.wrapping_add(case);
        let mut rng = StdRng::seed_from_u64(seed);
        let base = files.choose(&mut rng).unwrap().clone();
        let text = mutate(&mut rng, &base);
        let outcome = std::panic::catch_unwind(|| check(&text));
        match outcome {
            Ok(Ok(true)) => accepted += 1,
            Ok(Ok(false)) => {}
            Ok(Err(why)) => panic!("seed {seed:#x}: {why}\n--- file ---\n{text}\n---"),
            Err(_) => panic!("seed {seed:#x}: env::parse panicked\n--- file ---\n{text}\n---"),
        }
    }
    eprintln!("[property] provisioner: {accepted} of {cases} mutated files accepted, the rest rejected with their problems");
    // Both outcomes must be exercised, or the mutations are too weak (or too strong) to test much.
    assert!(
        cases < 50 || (accepted > 0 && accepted < cases),
        "{accepted} of {cases}"
    );
}
