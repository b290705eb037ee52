//! One file per subcommand, each a `run(args, ctx)`.

pub mod cache;
pub mod ci;
pub mod completions;
pub mod dockerfile;
pub mod doctor;
pub mod install;
pub mod list;
pub mod run;
pub mod uninstall;
pub mod venv;
pub mod wheels;
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
/// Check that a request names something the recipes have, in both builds when `pair`.
pub fn check_buildable(recipes: &RecipeBook, request: &VersionRequest, pair: bool) -> Result<(), Error> {
    resolve_requests(recipes, std::slice::from_ref(request), pair).map(|_| ())
}

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
    // ftpy decides these itself; a second value would contradict the plan and the install key.
    for opt in &flags.configure_opts {
        let name = opt.split('=').next().unwrap_or(opt);
        let why = match name {
            "--prefix" | "--exec-prefix" => "ftpy installs into <home>/versions/<version>",
            "--disable-gil" | "--enable-gil" => {
                "the variant comes from the request: add or drop the `t` (3.13t)"
            }
            "--enable-optimizations" | "--with-lto" => "these come from --profile",
            _ => continue,
        };
        return Err(Error::Usage {
            message: format!("--configure-opt {opt} is not allowed: {why}"),
            hints: vec!["`ftpy install --dry-run ...` shows the configure command ftpy runs".into()],
        });
    }
    let jobs = match jobs {
        Some(0) => return Err(Error::Usage { message: "--jobs must be at least 1".into(), hints: vec![] }),
        Some(n) => n,
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    Ok(BuildOptions { profile: flags.profile, jobs, extra_configure: flags.configure_opts.clone(), ccache })
}
