//! Where the service binaries are: an environment variable, else the project's cached install, else
//! `PATH`. A test meeting a missing tool skips on a developer machine and fails under CI, where
//! every tool is installed and a missing one is a broken install.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Azurite,
    Redis,
    Tansu,
}

const CACHE: &str = ".cache/superhero-dataflow";

impl Tool {
    /// The executable's name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Azurite => "azurite-blob",
            Tool::Redis => "redis-server",
            Tool::Tansu => "tansu",
        }
    }

    /// The variable that overrides where the executable is.
    pub fn env_var(self) -> &'static str {
        match self {
            Tool::Azurite => "AZURITE_BLOB_BIN",
            Tool::Redis => "REDIS_SERVER_BIN",
            Tool::Tansu => "TANSU_BIN",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Tool::Azurite => "run `bash tests/local-cloud.sh install` (npm install azurite@3)",
            Tool::Redis => {
                "run `bash tests/local-cloud.sh install` (Debian: apt-get install redis-server)"
            }
            Tool::Tansu => {
                "run `bash tests/local-cloud.sh install` (cargo install tansu --version 0.6.0 --features dynostore,libsql; about 11 minutes, once)"
            }
        }
    }

    /// The project's cached install under `$HOME`, or the system path Debian uses.
    fn default_path(self, home: &Path) -> PathBuf {
        match self {
            Tool::Azurite => home
                .join(CACHE)
                .join("azurite/node_modules/.bin/azurite-blob"),
            Tool::Redis => PathBuf::from("/usr/bin/redis-server"),
            Tool::Tansu => home.join(CACHE).join("tansu/bin/tansu"),
        }
    }

    /// The executable, from the process environment.
    pub fn locate(self) -> Result<PathBuf, MissingTool> {
        self.locate_in(|name| std::env::var_os(name))
    }

    /// Where the executable is expected even when it is missing (for a configuration default).
    pub fn expected_path(self) -> PathBuf {
        self.locate()
            .unwrap_or_else(|missing| missing.looked_at[0].clone())
    }

    /// `$ENV_VAR` when set (and then only there), else the cached install, else `PATH`.
    pub fn locate_in(self, env: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, MissingTool> {
        if let Some(path) = env(self.env_var()).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            return if path.is_file() {
                Ok(path)
            } else {
                Err(self.missing(vec![path], true))
            };
        }
        let home = PathBuf::from(env("HOME").unwrap_or_else(|| "/root".into()));
        let mut looked_at = vec![self.default_path(&home)];
        if let Some(path) = env("PATH") {
            looked_at.extend(std::env::split_paths(&path).map(|dir| dir.join(self.name())));
        }
        match looked_at.iter().find(|p| p.is_file()) {
            Some(found) => Ok(found.clone()),
            None => Err(self.missing(looked_at, false)),
        }
    }

    fn missing(self, looked_at: Vec<PathBuf>, from_env: bool) -> MissingTool {
        MissingTool {
            tool: self,
            looked_at,
            from_env,
        }
    }

    /// For a test: the executable, or `None` (the test skips) — but under CI a panic naming the
    /// tool and how to install it.
    pub fn for_test(self) -> Option<PathBuf> {
        self.for_test_in(|name| std::env::var_os(name))
    }

    pub fn for_test_in(self, env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
        match self.locate_in(&env) {
            Ok(path) => Some(path),
            Err(missing) if in_ci(&env) => {
                panic!("{missing}. CI installs every tool, so this is a broken install, not a skip")
            }
            Err(missing) => {
                eprintln!("SKIPPED (CI would fail here): {missing}");
                None
            }
        }
    }
}

/// `CI` set to anything but empty, `0` or `false`.
pub fn in_ci(env: impl Fn(&str) -> Option<OsString>) -> bool {
    env("CI").is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// A service binary that is not where it should be.
#[derive(Debug, Clone)]
pub struct MissingTool {
    pub tool: Tool,
    /// The places tried, the expected one first.
    pub looked_at: Vec<PathBuf>,
    from_env: bool,
}

impl fmt::Display for MissingTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tool = self.tool;
        let expected = self.looked_at[0].display();
        if self.from_env {
            write!(
                f,
                "{} is not installed: {}={expected} is not a file; fix {} or {}",
                tool.name(),
                tool.env_var(),
                tool.env_var(),
                tool.install_hint()
            )
        } else {
            write!(
                f,
                "{} is not installed (not at {expected} nor on PATH): {}, or set {}",
                tool.name(),
                tool.install_hint(),
                tool.env_var()
            )
        }
    }
}

impl std::error::Error for MissingTool {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn executable(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").expect("write");
        path
    }

    #[test]
    fn the_variable_wins_and_a_wrong_one_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = executable(dir.path(), "my-redis");
        let found = Tool::Redis.locate_in(env(&[("REDIS_SERVER_BIN", &bin)]));
        assert_eq!(found.expect("found"), bin);

        let wrong = dir.path().join("nowhere/redis-server");
        let missing = Tool::Redis
            .locate_in(env(&[("REDIS_SERVER_BIN", &wrong), ("PATH", dir.path())]))
            .expect_err("a variable naming no file is an error, not a fall-back");
        let text = missing.to_string();
        assert!(text.contains("REDIS_SERVER_BIN="), "{text}");
        assert!(text.contains(&wrong.display().to_string()), "{text}");
        assert!(text.contains("apt-get install redis-server"), "{text}");
    }

    #[test]
    fn the_cached_install_comes_before_path() {
        let home = tempfile::tempdir().expect("home");
        let cached = home.path().join(CACHE).join("tansu/bin");
        std::fs::create_dir_all(&cached).expect("mkdir");
        let cached = executable(&cached, "tansu");
        let on_path = tempfile::tempdir().expect("path");
        executable(on_path.path(), "tansu");
        let found = Tool::Tansu
            .locate_in(env(&[("HOME", home.path()), ("PATH", on_path.path())]))
            .expect("found");
        assert_eq!(found, cached);
    }

    #[test]
    fn path_is_searched_when_nothing_else_is_there() {
        let home = tempfile::tempdir().expect("home");
        let on_path = tempfile::tempdir().expect("path");
        let bin = executable(on_path.path(), "azurite-blob");
        let found = Tool::Azurite
            .locate_in(env(&[("HOME", home.path()), ("PATH", on_path.path())]))
            .expect("found");
        assert_eq!(found, bin);
    }

    #[test]
    fn a_missing_tool_skips_locally_and_fails_under_ci() {
        let home = tempfile::tempdir().expect("home");
        let empty = tempfile::tempdir().expect("path");
        let local = env(&[("HOME", home.path()), ("PATH", empty.path())]);
        assert_eq!(Tool::Tansu.for_test_in(local), None);

        let ci = env(&[
            ("HOME", home.path()),
            ("PATH", empty.path()),
            ("CI", Path::new("true")),
        ]);
        let panic = std::panic::catch_unwind(|| Tool::Tansu.for_test_in(ci))
            .expect_err("CI turns a skip into a failure");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("tansu is not installed"), "{message}");
        assert!(message.contains("TANSU_BIN"), "{message}");
        assert!(
            message.contains("tests/local-cloud.sh install"),
            "{message}"
        );
    }

    #[test]
    fn ci_means_a_set_non_false_value() {
        let with = |v: &'static str| move |name: &str| (name == "CI").then(|| OsString::from(v));
        assert!(in_ci(with("true")));
        assert!(in_ci(with("1")));
        assert!(!in_ci(with("")));
        assert!(!in_ci(with("false")));
        assert!(!in_ci(with("0")));
        assert!(!in_ci(|_: &str| None));
    }
}
