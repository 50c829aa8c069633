//! Building the function package through the function crate's reproducible builder. With
//! cargo-zigbuild available the handler is linked against glibc 2.31 symbols, so it runs on the
//! Functions Linux image whatever glibc the build machine has.

use function_zip::package::{build_package, BinarySource, Package, PackageError, PackageOptions};
use std::path::{Path, PathBuf};

pub const ZIG_TARGET: &str = "x86_64-unknown-linux-gnu.2.31";

/// The workspace that holds function/: `$PROVISION_WORKSPACE`, else where this binary was built from.
pub fn workspace_root() -> PathBuf {
    std::env::var_os("PROVISION_WORKSPACE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        })
}

/// The folder holding `cargo-zigbuild`: on PATH, or the project's cached install.
fn zigbuild_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).find(|p| p.join("cargo-zigbuild").is_file())
    });
    on_path.or_else(|| {
        let cached = PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/superhero-dataflow/zigbuild/bin");
        cached.join("cargo-zigbuild").is_file().then_some(cached)
    })
}

pub fn build(output: Option<&Path>) -> Result<Package, PackageError> {
    let binary = match zigbuild_dir() {
        Some(dir) => {
            let mut paths: Vec<PathBuf> = vec![dir];
            paths.extend(
                std::env::var_os("PATH")
                    .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                    .unwrap_or_default(),
            );
            if let Ok(joined) = std::env::join_paths(paths) {
                // cargo finds its `zigbuild` subcommand on PATH.
                std::env::set_var("PATH", joined);
            }
            BinarySource::Build {
                workspace_root: workspace_root(),
                subcommand: "zigbuild".into(),
                target: Some(ZIG_TARGET.into()),
            }
        }
        None => BinarySource::cargo_build(workspace_root()),
    };
    let mut options = PackageOptions::new(binary);
    options.output = output.map(Path::to_path_buf);
    build_package(&options)
}
