//! Interpreters: from what a user types to an installed, checked CPython.
//!
//! Data flows through these modules in this order:
//! - [`version`]: a `VersionRequest` (`3.14t`) as typed, and the `Variant` (GIL or free-threaded);
//!   the variant list and the rule that free-threading starts at 3.13 live here only.
//! - [`recipe`]: the `RecipeBook` of releases and digests resolves a request to a `Resolved` release,
//!   whose `key` (`3.14.6t`) names it on disk; [`configure_guard`] keeps user configure options
//!   from contradicting ftpy's own.
//! - [`request`]: what a command was asked, checked before any work: requests parsed and
//!   resolved, the build options (`--profile`, `--configure-opt`, `--jobs`), a home the build
//!   can take.
//! - [`download`]: fetches the source from mirrors into a content-addressed cache, verified by
//!   [`digest`] (sha256, fail closed); [`unpack`] extracts it safely into staging.
//! - [`build`]: configure, make, make install into the staging prefix, logged to a file. Every
//!   build is configured for a placeholder prefix; [`relocate`] rewrites the tree for the prefix
//!   it is installed at.
//! - [`build_cache`]: a finished build kept as an archive (as built, for the placeholder), keyed
//!   without the prefix, restored and relocated instead of building again, under any home.
//! - [`remote_cache`]: the same entries in a team's OCI registry or a static directory of them:
//!   looked up before building, pulled into the build cache, pushed after.
//! - [`post_install_check`]: the staged interpreter runs, its GIL is what its variant says, and
//!   the required modules import.
//! - [`install`]: the whole sequence under a lock, moved into place with one set-aside/commit
//!   transaction (`system::files::Transaction`); `install_all` installs a list of requests and
//!   is what `ftpy install` and `ftpy venv --install` call. [`journal`] lets a killed install be
//!   finished or undone by the next command.
//! - [`installation`]: what is installed (receipts) and the `<home>/bin` links to it, and
//!   [`home`]: where everything lives.
//!
//! Each error type here says its own exit code and hints (`impl crate::error::Diagnose` beside
//! it); `install::InstallError` holds the failures that belong to no single step. The modules
//! import each other without circles (`version` imports none of them, `home` only `version`),
//! and none imports `crate::commands` or `crate::cli`.

pub mod build;
pub mod build_cache;
pub mod configure_guard;
pub mod digest;
pub mod download;
pub mod home;
pub mod install;
pub mod installation;
pub mod journal;
pub mod post_install_check;
pub mod recipe;
pub mod relocate;
pub mod remote_cache;
pub mod request;
pub mod unpack;
pub mod version;
