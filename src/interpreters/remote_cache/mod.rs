//! Remote build caches: builds made once and restored anywhere (issue 11; being built).
//!
//! - [`oci`]: a registry client for the OCI distribution API.

// Not yet called: install and `cache push/pull` use it once the build cache is relocatable.
#![allow(dead_code)]

pub mod oci;
