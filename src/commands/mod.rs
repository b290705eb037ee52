//! One file per subcommand, each a `run(args, ctx)`.

pub mod cache;
pub mod ci;
pub mod completions;
pub mod dockerfile;
pub mod doctor;
pub mod install;
pub mod list;
pub mod uninstall;
pub mod which;

use crate::builder::BuildOptions;
use crate::cli::BuildFlags;
use crate::error::Error;
use crate::recipe::{RecipeBook, Resolved};
use crate::version::VersionRequest;

/// Parse every request before acting on any, so one typo stops the whole command early.
pub fn parse_requests(texts: &[String]) -> Result<Vec<VersionRequest>, Error> {
    texts.iter().map(|t| t.parse::<VersionRequest>().map_err(Error::from)).collect()
}

/// Resolve every request (each to both builds with `pair`), without duplicates.
pub fn resolve_requests<'a>(
    recipes: &'a RecipeBook,
    requests: &[VersionRequest],
    pair: bool,
) -> Result<Vec<Resolved<'a>>, Error> {
    let mut resolved: Vec<Resolved> = Vec::new();
    for request in requests {
        let found: Vec<Resolved> =
            if pair { recipes.resolve_pair(request)?.into() } else { vec![recipes.resolve(request)?] };
        for r in found {
            if !resolved.iter().any(|o| o.key == r.key) {
                resolved.push(r);
            }
        }
    }
    Ok(resolved)
}

pub fn build_options(flags: &BuildFlags, jobs: Option<usize>, ccache: bool) -> Result<BuildOptions, Error> {
    let jobs = match jobs {
        Some(0) => return Err(Error::Usage { message: "--jobs must be at least 1".into(), hints: vec![] }),
        Some(n) => n,
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    Ok(BuildOptions { profile: flags.profile, jobs, extra_configure: flags.configure_opts.clone(), ccache })
}
