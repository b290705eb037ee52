//! One file per subcommand, each a `run(args, ctx)`.

pub mod install;
pub mod list;
pub mod uninstall;
pub mod which;

use crate::error::Error;
use crate::version::VersionRequest;

/// Parse every request before acting on any, so one typo stops the whole command early.
pub fn parse_requests(texts: &[String]) -> Result<Vec<VersionRequest>, Error> {
    texts
        .iter()
        .map(|t| t.parse::<VersionRequest>().map_err(Error::from))
        .collect()
}
