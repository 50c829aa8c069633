//! Building the function package through the function crate's reproducible builder.

use function::package::{build_package, BinarySource, Package, PackageError, PackageOptions};
use std::path::{Path, PathBuf};

/// The workspace that holds function/: `$PROVISION_WORKSPACE`, else where this binary was built from.
pub fn workspace_root() -> PathBuf {
    std::env::var_os("PROVISION_WORKSPACE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default())
}

pub fn build(output: Option<&Path>) -> Result<Package, PackageError> {
    let mut options = PackageOptions::new(BinarySource::cargo_build(workspace_root()));
    options.output = output.map(Path::to_path_buf);
    build_package(&options)
}
