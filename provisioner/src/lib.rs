//! provision library
