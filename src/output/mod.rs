//! What ftpy shows: progress and messages on stderr, and text that is safe to show.
//!
//! - [`progress`]: the `Reporter`, the one place that knows whether stderr is a terminal.
//! - [`redact`]: masks passwords in URLs, wherever a message quotes one.
//! - [`terminal_text`]: escapes control characters in names that come from outside.
//! - [`github_actions`]: annotations and step outputs when running in GitHub Actions.

pub mod github_actions;
pub mod progress;
pub mod redact;
pub mod terminal_text;
