//! The command line: global options (each also an `FTPY_*` variable) and one subcommand each.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::interpreters::build::Profile;

#[derive(Debug, Parser)]
#[command(name = "ftpy", version, about = "Install and run GIL and free-threaded CPython side by side")]
pub struct Cli {
    /// Where ftpy keeps interpreters, caches and logs [default: the platform's data directory]
    #[arg(long, global = true, env = "FTPY_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// A directory of recipe files that add or override releases
    #[arg(long, global = true, env = "FTPY_RECIPES", value_name = "DIR")]
    pub recipes: Option<PathBuf>,

    /// Only errors and results: no progress output
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Where CPython's source comes from and how downloads are bounded: options of the commands that
/// download (`install`, `venv --install`), read once by `main` into the `Context`. Only those
/// commands parse them, so a stray FTPY_MAX_DOWNLOAD_MIB breaks no other command.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Base URL of a mirror laid out like python.org's ftp/python/ (http, https or file://);
    /// repeat, or separate with commas in FTPY_MIRROR, to try several in order
    #[arg(long = "mirror", env = "FTPY_MIRROR", value_delimiter = ',', value_name = "URL")]
    pub mirrors: Vec<String>,

    /// Pause before the first retry of a failed download, in milliseconds
    #[arg(long, env = "FTPY_RETRY_PAUSE_MS", default_value_t = 1000, hide = true)]
    pub retry_pause_ms: u64,

    /// The most a source download may be, in MiB
    #[arg(long, env = "FTPY_MAX_DOWNLOAD_MIB", default_value_t = crate::interpreters::download::DownloadLimits::DEFAULT_MAX_MIB,
        value_parser = clap::value_parser!(u64).range(1..=1024 * 1024), hide = true)]
    pub max_download_mib: u64,

    /// Give up a download that averages under 1 KiB/s over this many seconds
    #[arg(long, env = "FTPY_DOWNLOAD_SPEED_TIME", default_value_t = crate::interpreters::download::DownloadLimits::DEFAULT_RATE_WINDOW_SECS,
        value_parser = clap::value_parser!(u64).range(1..=3600), hide = true)]
    pub download_speed_time: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download, verify, build and install CPython versions (e.g. 3.13t, 3.14, 3.13.5t)
    Install(InstallArgs),
    /// Show installed interpreters, or with --available what the recipes offer
    List(ListArgs),
    /// Print the absolute path of an installed interpreter
    Which(WhichArgs),
    /// Remove installed interpreters
    Uninstall(UninstallArgs),
    /// Check that this machine can build CPython, and say how to fix what is missing
    Doctor(DoctorArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one per subcommand with --dir
    Man(ManArgs),
    /// Print CI configuration that uses ftpy
    #[command(subcommand)]
    Ci(CiCommand),
    /// Print a multi-stage Dockerfile for a base image with an ftpy-built interpreter
    Dockerfile(DockerfileArgs),
    /// Inspect and bound the download and build caches
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Create a project's twin environments (.venv-gil, .venv-ft) from an installed pair
    Venv(VenvArgs),
    /// Run a command in both environments of the project and compare exit codes and times
    Run(RunArgs),
    /// Which dependencies lack a free-threaded wheel; build them from source and prove them
    #[command(subcommand)]
    Wheels(WheelsCommand),
    /// For tests: the names of the points where FTPY_TEST_PAUSE_AT can stop ftpy
    #[command(hide = true, name = "debug-kill-points")]
    DebugKillPoints,
}

#[derive(Debug, Subcommand)]
pub enum WheelsCommand {
    /// Report, for every requirement and dependency, whether a wheel loads in the target
    Check(WheelsCheckArgs),
    /// Build from source every package that has no usable wheel, then check each keeps the GIL off
    Build(WheelsBuildArgs),
}

/// What to check: requirements, the target interpreter and the index.
#[derive(Debug, Args)]
pub struct WheelSelection {
    /// The project whose pyproject.toml dependencies to read when no -r is given
    #[arg(value_name = "PROJECT_DIR")]
    pub project: Option<PathBuf>,

    /// A requirements file (repeatable)
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    pub requirements: Vec<PathBuf>,

    /// The target interpreter, e.g. 3.13t or 3.14t (without `t`: the GIL build) [default: the
    /// newest installed free-threaded build]
    #[arg(long, value_name = "VERSION")]
    pub python: Option<String>,

    /// The package index [default: PIP_INDEX_URL, else pip's configuration, else pip's default]
    #[arg(short = 'i', long, value_name = "URL")]
    pub index_url: Option<String>,

    /// Another index to look in as well (repeatable; also PIP_EXTRA_INDEX_URL)
    #[arg(long, value_name = "URL")]
    pub extra_index_url: Vec<String>,

    /// Ignore index pages cached in the last few minutes
    #[arg(long)]
    pub refresh: bool,
}

#[derive(Debug, Args)]
pub struct WheelsCheckArgs {
    #[command(flatten)]
    pub selection: WheelSelection,

    /// Check for this platform tag instead of this machine's, as pip's --platform (repeatable)
    #[arg(long = "platform", value_name = "TAG")]
    pub platforms: Vec<String>,

    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,

    /// Exit non-zero (12) when anything lacks a usable wheel
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct WheelsBuildArgs {
    #[command(flatten)]
    pub selection: WheelSelection,

    /// Where to put the wheels [default: <home>/wheels/<interpreter>, which `ftpy venv` uses]
    #[arg(long, value_name = "DIR")]
    pub wheelhouse: Option<PathBuf>,

    /// For the newest installed ThreadSanitizer build (`--profile tsan`): every package with
    /// C code, binary wheel or not, built from source with -fsanitize=thread into that build's
    /// wheelhouse, which `ftpy venv --tsan` installs from
    #[arg(long)]
    pub tsan: bool,
}

#[derive(Debug, Args)]
pub struct VenvArgs {
    /// The project [default: the nearest directory from here upwards that holds .venv-gil or
    /// .venv-ft, a pyproject.toml or a requirements.txt; else the current directory]
    #[arg(value_name = "PROJECT_DIR")]
    pub project: Option<PathBuf>,

    /// Which pair: 3.13, 3.14, 3.13.5 (with or without the `t`) [default: .python-version, else
    /// requires-python in pyproject.toml, else the newest installed pair]
    #[arg(long, value_name = "VERSION")]
    pub python: Option<String>,

    /// A requirements file to install into both environments (repeatable) [default: the project
    /// itself with -e . when pyproject.toml has a build system, else its dependencies, else
    /// requirements.txt]
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    pub requirements: Vec<PathBuf>,

    /// Install only the dependencies in pyproject.toml, not the project itself
    #[arg(long)]
    pub deps_only: bool,

    /// Install the pair first if it is not installed (what `ftpy install --pair` does)
    #[arg(long)]
    pub install: bool,

    /// First build from source the requirements that have no free-threaded wheel (what
    /// `ftpy wheels build` does), so the free-threaded environment installs those wheels
    #[arg(long)]
    pub build_wheels: bool,

    /// The build profile for --install
    #[arg(long, value_enum, default_value_t = Profile::Optimized, requires = "install")]
    pub profile: Profile,

    /// For --install: restore the pair from this remote cache before building (as `ftpy install
    /// --remote-cache`) [env: FTPY_REMOTE_CACHE]
    #[arg(long, value_name = "URL", requires = "install")]
    pub remote_cache: Option<String>,

    /// Show the pair, both environments and how they differ; change nothing
    #[arg(long, conflicts_with_all = ["python", "requirements", "deps_only", "install", "build_wheels", "tsan"])]
    pub status: bool,

    /// Make the ThreadSanitizer environment (.venv-tsan) instead, from the newest installed
    /// `--profile tsan` build: C extensions built from source with -fsanitize=thread, pure-Python
    /// packages from wheels. The twin environments are not touched
    #[arg(long, conflicts_with_all = ["install", "build_wheels"])]
    pub tsan: bool,

    /// For --install.
    #[command(flatten)]
    pub sources: SourceArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("races").args(["stress", "tsan"]).multiple(false)))]
pub struct RunArgs {
    /// Only in the GIL environment
    #[arg(long, conflicts_with_all = ["ft", "both"])]
    pub gil: bool,

    /// Only in the free-threaded environment
    #[arg(long, conflicts_with = "both")]
    pub ft: bool,

    /// In both, the GIL one first (the default)
    #[arg(long)]
    pub both: bool,

    /// Run each side N times and report the median and spread (for benchmarks)
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// In the ThreadSanitizer environment (.venv-tsan, from `ftpy venv --tsan`) instead, then
    /// TSan's reports grouped into unique races; exits 18 when one is outside CPython. Your
    /// TSAN_OPTIONS are kept, but ftpy's halt_on_error, exitcode, log_path, stack_trace_format
    /// and suppressions (CPython's own) replace yours
    #[arg(long, conflicts_with_all = ["gil", "ft", "both", "repeat"])]
    pub tsan: bool,

    /// The project whose environments to use [default: the nearest directory upwards that has them]
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,

    /// Find races: the pytest suite runs alone, then with each test in N threads at once
    /// (pytest-run-parallel, installed on demand), in the free-threaded environment; reports the
    /// tests that pass alone but fail under threads (with --both: then the same in the GIL
    /// environment, for contrast)
    #[arg(long, conflicts_with_all = ["gil", "repeat"])]
    pub stress: bool,

    /// With --stress: threads per test, 2 or more, or `auto` (the core count, at least 2)
    #[arg(long, requires = "stress", value_name = "N|auto", default_value = "auto",
          value_parser = crate::races::stress::parse_threads)]
    pub threads: crate::races::stress::Threads,

    /// With --stress: times each thread runs each test
    #[arg(long, requires = "stress", value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub iterations: u32,

    /// With --stress or --tsan: the report as JSON on stdout (the command's own output goes to
    /// stderr)
    #[arg(long, requires = "races")]
    pub json: bool,

    /// The command and its arguments, e.g. `-- python -m pytest -q`
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Versions to install: 3.13t (newest 3.13, free-threaded), 3.14 (GIL), 3.13.5t, 3.15.0b4t, ...
    #[arg(required = true, value_name = "VERSION")]
    pub requests: Vec<String>,

    #[command(flatten)]
    pub sources: SourceArgs,

    /// Install both builds of each version, GIL and free-threaded, built together
    #[arg(long)]
    pub pair: bool,

    /// Show what would happen (version, source, digest, configure command) and change nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub build: BuildFlags,

    /// Parallel compile jobs [default: all cores]
    #[arg(long, short)]
    pub jobs: Option<usize>,

    /// Build again even if the version is installed
    #[arg(long)]
    pub reinstall: bool,

    /// Always build from source, even when the build cache holds this exact build
    #[arg(long, conflicts_with = "no_build")]
    pub no_build_cache: bool,

    /// Restore from this remote cache before building: oci://HOST/REPO (a registry, HTTPS),
    /// oci+http://HOST:PORT/REPO (plain HTTP), or the https://, http:// or file:// URL of a
    /// directory made by `ftpy cache export` [env: FTPY_REMOTE_CACHE]
    #[arg(long, value_name = "URL")]
    pub remote_cache: Option<String>,

    /// Upload each build made (or restored from the local build cache) to the remote cache
    #[arg(long)]
    pub push: bool,

    /// Restore from the build cache or the remote cache, or fail (exit code 16): never build
    #[arg(long)]
    pub no_build: bool,

    /// Do not check for a compiler, headers and disk space before downloading
    #[arg(long)]
    pub no_system_check: bool,

    /// Do not compile through ccache, even when it is on PATH
    #[arg(long)]
    pub no_ccache: bool,

    /// Install even if ssl, zlib, ctypes, sqlite3, lzma or bz2 failed to build
    #[arg(long)]
    pub allow_missing_modules: bool,
}

/// What decides the result of a build, besides the version.
#[derive(Debug, Args)]
pub struct BuildFlags {
    /// optimized: PGO + LTO (the default); fast: neither (development, tests); max: clang, PGO, LTO, BOLT, tail calls; tsan: ThreadSanitizer
    #[arg(long, value_enum, default_value_t = Profile::Optimized)]
    pub profile: Profile,

    /// An extra argument for configure, passed verbatim (repeatable)
    #[arg(long = "configure-opt", value_name = "ARG", allow_hyphen_values = true)]
    pub configure_opts: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// A GitHub Actions workflow: a matrix over versions and GIL / free-threaded builds
    Github(CiGithubArgs),
}

#[derive(Debug, Args)]
pub struct CiGithubArgs {
    /// Release series to test on; each is tested on both builds (add 3.13 to test it too)
    #[arg(long, num_args = 1.., default_values_t = [crate::interpreters::version::RECOMMENDED_SERIES.to_string()])]
    pub python: Vec<String>,

    /// ftpy's action as `uses:` takes it, e.g. owner/ftpy@v1 [default: checked out from the
    /// repository named by the repository variable FTPY_REPOSITORY]
    #[arg(long, value_name = "OWNER/NAME@REF")]
    pub action: Option<String>,

    /// The test runner module, run as `python -m ...` in each environment
    #[arg(long, default_value = "pytest")]
    pub test_command: String,

    /// Pull builds from this remote cache (oci://ghcr.io/OWNER/ftpy-builds, or a store written by
    /// `ftpy cache export`); a registry is pushed to only by a job on the default branch
    #[arg(long, value_name = "URL")]
    pub remote_cache: Option<String>,

    /// Add a job that runs the tests under threads on the free-threaded build (`ftpy run
    /// --stress --json`), failing on race candidates; needs a pytest test command
    #[arg(long)]
    pub stress: bool,
}

#[derive(Debug, Args)]
pub struct DockerfileArgs {
    /// The interpreter the image carries
    #[arg(long, default_value = "3.14t")]
    pub python: String,

    /// The final stage's base image (Debian or Ubuntu based)
    #[arg(long, default_value = "debian:bookworm-slim")]
    pub base: String,

    /// The builder stage's image: Rust 1.89 or newer on the base's release [default: the
    /// official Rust image of the base's Debian release]
    #[arg(long)]
    pub builder: Option<String>,

    /// Build profile of the interpreter
    #[arg(long, value_enum, default_value_t = Profile::Optimized)]
    pub profile: Profile,

    /// Restore the interpreter in the builder stage from this remote cache (oci://..., https://,
    /// http://), building it only on a miss; a token is passed as a build secret
    #[arg(long, value_name = "URL")]
    pub remote_cache: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write ftpy.1 and an ftpy-<subcommand>.1 page for each subcommand into DIR instead
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The series to check for: what a build requires depends on it (3.14 adds libzstd)
    #[arg(long, value_name = "SERIES", default_value_t = crate::interpreters::version::RECOMMENDED_SERIES)]
    pub python: crate::interpreters::version::MinorVersion,
    /// The build profile to check for: tsan adds a compiler whose ThreadSanitizer runtime
    /// links and runs here, and the kernel's vm.mmap_rnd_bits
    #[arg(long, value_enum, default_value_t = Profile::Optimized)]
    pub profile: Profile,
    /// Count the headers of the required modules (ssl, zlib, ctypes, ...) as optional
    #[arg(long)]
    pub allow_missing_modules: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List the releases the recipes offer instead of what is installed
    #[arg(long)]
    pub available: bool,
}

#[derive(Debug, Args)]
pub struct WhichArgs {
    /// An installed version: 3.13t, 3.13.5, ...
    #[arg(value_name = "VERSION")]
    pub request: String,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Installed versions to remove, e.g. 3.13.5t
    #[arg(required = true, value_name = "VERSION")]
    pub requests: Vec<String>,

    /// Remove both builds (GIL and free-threaded) of each version
    #[arg(long)]
    pub pair: bool,

    /// Remove even installations that twin environments made by `ftpy venv` are based on
    /// (those environments stop working)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print the cache directory (sources/ and builds/), e.g. for a CI cache step
    Dir,
    /// List the builds in the build cache
    List,
    /// Remove builds, downloaded sources and package index files from the caches
    Prune(PruneArgs),
    /// Print a stable key for the build(s) a request resolves to on this machine
    Key(CacheKeyArgs),
    /// Upload installed builds (all of them by default) to a remote cache (an OCI registry)
    Push(CachePushArgs),
    /// Download builds from a remote cache into the build cache, without installing them
    Pull(CachePullArgs),
    /// Write the build cache as a directory any web server can serve as a read-only remote
    /// cache: <DIR>/<id>.tar.zst and <DIR>/<id>.json
    Export(CacheExportArgs),
}

#[derive(Debug, Args)]
pub struct CachePushArgs {
    /// Installations to upload, as `ftpy list` names them (3.14.6t) or as requests (3.14t)
    #[arg(value_name = "INSTALLATION")]
    pub installations: Vec<String>,

    /// The registry: oci://HOST/REPO, or oci+http://HOST:PORT/REPO [env: FTPY_REMOTE_CACHE]
    #[arg(long, visible_alias = "remote-cache", value_name = "URL")]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct CachePullArgs {
    /// Versions to fetch, as for `ftpy install`
    #[arg(required = true, value_name = "VERSION")]
    pub requests: Vec<String>,

    /// Both builds of each version, GIL and free-threaded
    #[arg(long)]
    pub pair: bool,

    #[command(flatten)]
    pub build: BuildFlags,

    /// The remote cache [env: FTPY_REMOTE_CACHE]
    #[arg(long, visible_alias = "remote-cache", value_name = "URL")]
    pub from: Option<String>,
}

#[derive(Debug, Args)]
pub struct CacheExportArgs {
    /// The directory to write (created if missing); entries already there are kept
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep only the newest N builds, and the newest N other downloaded sources besides those of
    /// installed versions and cached builds (which are always kept)
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,

    /// Remove builds, downloaded sources (but those of installed versions and cached builds) and
    /// package index files older than this: 30d, 12h, 90m, 2w
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
}

#[derive(Debug, Args)]
pub struct CacheKeyArgs {
    /// A version request, as for `ftpy install`
    #[arg(value_name = "VERSION")]
    pub request: String,

    /// The key of the pair (GIL and free-threaded) of that version
    #[arg(long)]
    pub pair: bool,

    #[command(flatten)]
    pub build: BuildFlags,
}
