//! What a user asks for, checked before any work: version requests parsed and resolved against
//! the recipes, the configure options and `--jobs` a build takes, and a home whose path the
//! build can take.

use crate::error::Error;
use crate::interpreters::build::{BuildOptions, Profile};
use crate::interpreters::recipe::{RecipeBook, Resolved};
use crate::interpreters::version::{BuildKind, VersionRequest};

/// Parse every request before acting on any, so one typo stops the whole command early.
pub fn parse_requests(texts: &[String]) -> Result<Vec<VersionRequest>, Error> {
    texts.iter().map(|t| t.parse::<VersionRequest>().map_err(Error::from)).collect()
}

/// Check that a request names something the recipes have, in both builds when `pair`.
pub fn check_buildable(recipes: &RecipeBook, request: &VersionRequest, pair: bool) -> Result<(), Error> {
    resolve_requests(recipes, std::slice::from_ref(request), pair).map(|_| ())
}

/// The requests as `profile` builds them: with `--profile tsan` each names its ThreadSanitizer
/// build (`3.14t` becomes `3.14t-tsan`; a GIL request is refused); with any other profile, a
/// request that says `-tsan` is refused, since only `--profile tsan` builds one.
pub fn requests_for_profile(
    requests: &[VersionRequest],
    profile: Profile,
) -> Result<Vec<VersionRequest>, Error> {
    let build = profile.build_kind();
    requests
        .iter()
        .map(|request| {
            if request.build == BuildKind::Tsan && build != BuildKind::Tsan {
                return Err(Error::Usage {
                    message: format!(
                        "{request} is a ThreadSanitizer build, which only --profile tsan builds"
                    ),
                    hints: vec![format!(
                        "`ftpy install --profile tsan {}`",
                        VersionRequest { build: BuildKind::Release, ..request.clone() }
                    )],
                });
            }
            Ok(request.with_build(build)?)
        })
        .collect()
}

/// Refuse `--profile tsan` where only a release build makes sense (`what`: what is built).
pub fn refuse_tsan_profile(profile: Profile, what: &str) -> Result<(), Error> {
    if profile.build_kind() == BuildKind::Release {
        return Ok(());
    }
    Err(Error::Usage {
        message: format!("--profile {profile} makes a ThreadSanitizer build, which is never {what}"),
        hints: vec![
            "use --profile optimized or --profile fast here".into(),
            "`ftpy install --profile tsan 3.14t` installs the ThreadSanitizer build (3.14.6t-tsan) beside the release one"
                .into(),
        ],
    })
}

/// Resolve every request (each to both builds with `pair`), without duplicates.
pub fn resolve_requests<'a>(
    recipes: &'a RecipeBook,
    requests: &[VersionRequest],
    pair: bool,
) -> Result<Vec<Resolved<'a>>, Error> {
    let mut resolved: Vec<Resolved> = Vec::new();
    for request in requests {
        if pair && request.build == BuildKind::Tsan {
            return Err(Error::Usage {
                message: format!(
                    "--pair installs the GIL and free-threaded release builds; {request} is a ThreadSanitizer build, which is free-threaded only"
                ),
                hints: vec![format!(
                    "drop --pair: `ftpy install --profile tsan {}`",
                    VersionRequest { build: BuildKind::Release, ..request.clone() }
                )],
            });
        }
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

/// The most parallel compile jobs ftpy asks make for.
pub const MAX_JOBS: usize = 1024;

/// The options of a build: `--profile`, `--configure-opt` (refused where ftpy decides the value
/// itself), `--jobs` (one per core when not given) and whether to compile through ccache.
pub fn build_options(
    profile: Profile,
    configure_opts: &[String],
    jobs: Option<usize>,
    ccache: bool,
) -> Result<BuildOptions, Error> {
    // ftpy decides these itself; a second value would contradict the plan and the install key.
    for opt in configure_opts {
        if let Err(refusal) = crate::interpreters::configure_guard::check(opt) {
            return Err(Error::Usage {
                message: format!("--configure-opt {refusal}"),
                hints: vec!["`ftpy install --dry-run ...` shows the configure command ftpy runs".into()],
            });
        }
    }
    let jobs = match jobs {
        Some(n @ 1..=MAX_JOBS) => n,
        Some(n) => {
            return Err(Error::Usage {
                message: format!("--jobs {n} is out of range: it must be from 1 to {MAX_JOBS}"),
                hints: vec![format!(
                    "{MAX_JOBS} parallel jobs are more than any one machine can use, and each is a token in make's jobserver pipe, whose size is bounded; leave --jobs out for one per core ({})",
                    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
                )],
            });
        }
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    Ok(BuildOptions { profile, jobs, extra_configure: configure_opts.to_vec(), ccache })
}

/// Refuse a home whose path CPython's build cannot take. The prefix and the source directory
/// (both under the home) reach configure, the Makefile and its shell lines, mostly unquoted: a
/// space splits a word (configure's makesetup fails on one), and `$`, a backtick, a quote or a
/// backslash are expanded or executed by the build. Letters and digits of any script, and
/// `/ . _ - + @ ~` are known to be safe; anything else is refused here, before any work.
/// The build works from the real path (configure and make take `pwd`), so a home reached
/// through a symlink is judged by where it leads as well.
pub fn check_build_home(home: &std::path::Path) -> Result<(), Error> {
    check_build_path(home, None)?;
    let real = real_path(home);
    if real != home { check_build_path(&real, Some(home)) } else { Ok(()) }
}

/// `path` with its symlinks resolved, as far as it exists (the rest appended as given).
fn real_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut rest = Vec::new();
    for existing in path.ancestors() {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, part| p.join(part));
        }
        match existing.file_name() {
            Some(name) => rest.push(name),
            None => break,
        }
    }
    path.to_path_buf()
}

/// Refuse `path`, the home (`via`: a symlink path that leads to it), if the build cannot take it.
fn check_build_path(path: &std::path::Path, via: Option<&std::path::Path>) -> Result<(), Error> {
    let text = path.to_string_lossy();
    let safe = |c: char| c.is_alphanumeric() || "/._-+@~".contains(c);
    let Some(bad) = text.chars().find(|&c| !safe(c)) else { return Ok(()) };
    let named = match bad {
        ' ' => "a space".to_string(),
        '\n' => "a newline".to_string(),
        '\t' => "a tab".to_string(),
        '`' => "a backtick (`)".to_string(),
        c if c.is_control() || c == char::REPLACEMENT_CHARACTER => {
            format!("the character U+{:04X}", c as u32)
        }
        c => format!("`{c}`"),
    };
    Err(Error::Usage {
        message: match via {
            None => format!(
                "the ftpy home {} contains {named}, which CPython's build cannot take in its install prefix",
                text.escape_debug()
            ),
            Some(home) => format!(
                "the ftpy home {} resolves to {}, which contains {named}: CPython's build cannot take that in its install prefix",
                home.to_string_lossy().escape_debug(),
                text.escape_debug()
            ),
        },
        hints: vec![
            "set FTPY_HOME (or --home) to a path of letters, digits and / . _ - + @ ~ only, e.g. ~/.local/share/ftpy".into(),
        ],
    })
}
