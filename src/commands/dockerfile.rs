//! `ftpy dockerfile`: a multi-stage Dockerfile. The builder stage installs the build
//! dependencies and ftpy (from this checkout, with install.sh) and builds the interpreter into
//! `/opt/ftpy` (with `--remote-cache`, restores it from there and builds only on a miss); the
//! final stage holds only the interpreter, its runtime libraries and PATH.

use std::process::ExitCode;

use crate::cli::DockerfileArgs;
use crate::commands::remote_cache_arg::{self, RemoteCacheArg, Store};
use crate::error::Error;
use crate::interpreters::build::Profile;
use crate::interpreters::version::VersionRequest;

/// Debian and Ubuntu releases by the names images carry.
const RELEASES: &[&str] =
    &["bullseye", "bookworm", "trixie", "focal", "jammy", "noble", "20.04", "22.04", "24.04"];

fn release_of(image: &str) -> Option<&'static str> {
    RELEASES.iter().copied().find(|r| image.contains(r))
}

pub fn run(args: DockerfileArgs, ctx: &crate::context::Context) -> Result<ExitCode, Error> {
    crate::interpreters::request::refuse_tsan_profile(args.profile, "an image's interpreter")?;
    if args.profile == Profile::Max {
        return Err(Error::Usage {
            message: "--profile max is not offered in Dockerfiles yet: the builder stage would need clang 19, llvm-19 and bolt-19, which not every base release packages".into(),
            hints: vec![
                "use --profile optimized (the default) or --profile fast".into(),
            ],
        });
    }
    let request: VersionRequest = args.python.parse()?;
    crate::interpreters::request::check_buildable(&ctx.recipes()?, &request, false)?;
    let builder = match &args.builder {
        Some(builder) => builder.clone(),
        // The official Rust images exist for Debian releases: take the final image's.
        None => match release_of(&args.base).filter(|r| ["bullseye", "bookworm", "trixie"].contains(r)) {
            Some(release) => format!("rust:1-{release}"),
            None => {
                return Err(Error::Usage {
                    message: format!(
                        "no official Rust image matches `{}`, and the distribution's packaged Rust is older \
                         than the {RUST} that building ftpy needs",
                        args.base
                    ),
                    hints: vec![
                        format!(
                            "pass --builder with an image of the same release as {} that has cargo {RUST} or newer \
                             (for example one built FROM it with rustup)",
                            args.base
                        ),
                        "or use a Debian base (debian:bookworm-slim, debian:trixie-slim), whose rust:1-* images exist"
                            .into(),
                    ],
                });
            }
        },
    };
    // install.sh builds ftpy with cargo in the builder stage: a plain distribution image has none.
    if let Some(plain) = ["debian:", "ubuntu:", "buildpack-deps:"].iter().find(|p| builder.starts_with(**p)) {
        return Err(Error::Usage {
            message: format!(
                "the builder `{builder}` is a plain {} image without Rust; install.sh needs cargo {RUST} or newer",
                plain.trim_end_matches(':')
            ),
            hints: vec![format!(
                "pass --builder with an image of that release with Rust {RUST} or newer installed, or use a \
                 Debian base and let the builder default to the matching rust:1-* image"
            )],
        });
    }
    for image in [&args.base, &builder] {
        let lower = image.to_lowercase();
        if ["alpine", "fedora", "centos", "rocky", "ubi", "amazonlinux", "opensuse", "archlinux"]
            .iter()
            .any(|other| lower.contains(other))
        {
            return Err(Error::Usage {
                message: format!(
                    "`{image}` is not Debian or Ubuntu based; the Dockerfile's stages use apt-get"
                ),
                hints: vec!["use Debian or Ubuntu images of one release for --base and --builder".into()],
            });
        }
    }
    if let (Some(a), Some(b)) = (release_of(&args.base), release_of(&builder)) {
        if a != b {
            return Err(Error::Usage {
                message: format!(
                    "the builder `{builder}` ({b}) and the base `{}` ({a}) are different releases",
                    args.base
                ),
                hints: vec![
                    "an interpreter built against one release's libraries may not run on another's".into(),
                ],
            });
        }
    }
    let remote = args.remote_cache.as_deref().map(remote_cache_arg::parse).transpose()?;
    if let Some(remote) = remote.as_ref().filter(|r| r.store == Store::File) {
        return Err(Error::Usage {
            message: format!("`{}`: a docker build cannot read this machine's directories", remote.url),
            hints: vec![
                "serve the directory over HTTP (any web server), or use a registry (oci://...)".into(),
            ],
        });
    }
    if args.profile == Profile::Optimized {
        let when = if remote.is_some() { " on a miss in the remote cache" } else { "" };
        ctx.reporter.info(format!(
            "Note: the image builds CPython{when} with PGO and LTO (--profile optimized): about {OPTIMIZED_MINUTES} \
             minutes on 2 cores; --profile fast builds in about {FAST_MINUTES}"
        ));
    }
    let command = regenerate_command(&args);
    print!("{}", dockerfile(&request, &args.base, &builder, args.profile, &command, remote.as_ref()));
    Ok(ExitCode::SUCCESS)
}

/// The Rust release building ftpy needs (Cargo.toml's rust-version).
const RUST: &str = env!("CARGO_PKG_RUST_VERSION");
/// Measured here: a 3.14 build on an idle 2-core machine.
const OPTIMIZED_MINUTES: u32 = 16;
const FAST_MINUTES: u32 = 3;

/// The command that writes this same Dockerfile again, every choice spelled out.
fn regenerate_command(args: &DockerfileArgs) -> String {
    let mut command = format!("ftpy dockerfile --python {} --base {}", args.python, args.base);
    if let Some(builder) = &args.builder {
        command.push_str(&format!(" --builder {builder}"));
    }
    if args.profile == Profile::Fast {
        command.push_str(" --profile fast");
    }
    if let Some(url) = &args.remote_cache {
        command.push_str(&format!(" --remote-cache {url}"));
    }
    command
}

/// The secrets the builder stage reads, by their BuildKit ids: mounted as files under
/// /run/secrets for the one `RUN` that installs, never in a layer, an `ARG` or an `ENV`.
const TOKEN_SECRET: &str = "ftpy_remote_cache_token";
const USER_SECRET: &str = "ftpy_remote_cache_user";

/// The builder's install step: plain, or with the remote cache, whose credentials (if any) come
/// from secret mounts and live only in the environment of that one command.
fn install_step(install: &str, remote: Option<&RemoteCacheArg>) -> String {
    if remote.is_none() {
        return format!("RUN {install}\n");
    }
    let read = |secret: &str, variable: &str| {
        format!(
            "if [ -s /run/secrets/{secret} ]; then \\\n      \
             {variable}=$(cat /run/secrets/{secret}) && export {variable}; fi"
        )
    };
    format!(
        "# Restored from the remote cache (a build made under any home: builds are relocatable), else\n\
         # built here, with the packages above (which also bring the runtime libraries the next step\n\
         # finds). A token, if given, is read from a secret mount for this one command only.\n\
         RUN --mount=type=secret,id={TOKEN_SECRET} --mount=type=secret,id={USER_SECRET} \\\n    \
         {token} \\\n \
         && {user} \\\n \
         && {install}\n",
        token = read(TOKEN_SECRET, "FTPY_REMOTE_CACHE_TOKEN"),
        user = read(USER_SECRET, "FTPY_REMOTE_CACHE_USER"),
    )
}

/// The header lines on the remote cache: how to give it a token, and what it can hold.
fn remote_header(remote: &RemoteCacheArg, request: &VersionRequest) -> String {
    let mut text = format!(
        "# The builder restores the interpreter from the remote cache\n\
         #   {url}\n\
         # and builds it only on a miss. A hit needs a build made for what the builder is (its C\n\
         # library and compiler are part of the key), pushed for instance by `ftpy install --push` in\n\
         # a container of the builder image. A token for the registry is a BuildKit secret, never an\n\
         # ARG or ENV, so that no layer keeps it (anonymous pulls need none):\n\
         #   docker build --secret id={TOKEN_SECRET},env=FTPY_REMOTE_CACHE_TOKEN -f Dockerfile.python -t python:{request} .\n\
         # (and --secret id={USER_SECRET},env=FTPY_REMOTE_CACHE_USER for a registry that wants a\n\
         # user name).\n",
        url = remote.url
    );
    if remote.is_loopback() {
        text.push_str(
            "# The build reaches a registry on this machine only with `docker build --network=host`.\n",
        );
    }
    text
}

pub fn dockerfile(
    request: &VersionRequest,
    base: &str,
    builder: &str,
    profile: Profile,
    command: &str,
    remote: Option<&RemoteCacheArg>,
) -> String {
    let (profile_flag, duration) = match profile {
        Profile::Tsan | Profile::Max => unreachable!("refused by `run`"),
        Profile::Optimized => {
            (String::new(), format!("about {OPTIMIZED_MINUTES} minutes on 2 cores (PGO and LTO)"))
        }
        Profile::Fast => (" --profile fast".into(), format!("about {FAST_MINUTES} minutes on 2 cores")),
    };
    let python = match (request.minor, request.variant) {
        (Some(minor), variant) => format!("python{}.{minor}{}", request.major, variant.suffix()),
        (None, variant) => format!("python{}{}", request.major, variant.suffix()),
    };
    // A base image has no display: tkinter (and the X libraries it would pull in) is left out.
    let tk = crate::system::sysdeps::SystemDependency::Tk.package(crate::system::sysdeps::Platform::Debian);
    let packages: Vec<&str> =
        crate::system::sysdeps::Platform::Debian.build_packages().into_iter().filter(|p| *p != tk).collect();
    let packages = packages.join(" ");
    let remote_header = remote.map(|r| remote_header(r, request)).unwrap_or_default();
    // The URL passed every check of remote_cache_arg: single quotes keep it as it is.
    let install = match remote {
        Some(remote) => format!("ftpy install --remote-cache '{}'{profile_flag} {request}", remote.url),
        None => format!("ftpy install{profile_flag} {request}"),
    };
    let install = install_step(&install, remote);
    format!(
        r#"# syntax=docker/dockerfile:1
# Generated by `ftpy dockerfile`: CPython {request} built from verified source by ftpy.
# Build it in an ftpy checkout (its .dockerignore leaves target/ out):
#   {command} > Dockerfile.python && docker build -f Dockerfile.python -t python:{request} .
# The builder and the final image must be the same Debian or Ubuntu release. Building the
# interpreter takes {duration}.
{remote_header}
FROM {builder} AS builder
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages}
COPY . /src/ftpy
RUN FTPY_INSTALL_DIR=/usr/local/bin /src/ftpy/install.sh
ENV FTPY_HOME=/opt/ftpy
{install}# The packages of the shared libraries the interpreter and its extension modules load.
RUN cd /opt/ftpy \
 && for f in versions/*/bin/python3.* versions/*/lib/python3.*/lib-dynload/*.so; do ldd "$f" 2>/dev/null || true; done \
  | awk '$2 == "=>" && $3 ~ /^\// {{print $3}}' | sort -u \
  | while read -r lib; do dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || true; done \
  | cut -d: -f1 | sort -u > /opt/ftpy/runtime-packages.txt
RUN rm -rf /opt/ftpy/cache /opt/ftpy/logs /opt/ftpy/tmp /opt/ftpy/locks

FROM {base}
COPY --from=builder /opt/ftpy /opt/ftpy
RUN apt-get update \
 && xargs -a /opt/ftpy/runtime-packages.txt env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/ftpy/bin:$PATH
# `python` and `python3` are this interpreter, as in the official Python images.
RUN ln -sf /opt/ftpy/bin/{python} /usr/local/bin/python3 \
 && ln -sf /opt/ftpy/bin/{python} /usr/local/bin/python
CMD ["{python}"]
"#
    )
}
