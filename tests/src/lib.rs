//! local cloud
