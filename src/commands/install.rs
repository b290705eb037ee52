//! `ftpy install 3.13t 3.14 ...` and `ftpy install --pair 3.13`: resolve every request first,
//! then install release by release; the builds of one release are built together.

use std::process::ExitCode;

use crate::cli::InstallArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::build;
use crate::interpreters::install::{self, InstallGroup, InstallOptions};
use crate::interpreters::remote_cache::{RemoteCache, RemoteCacheError};

pub fn run(args: InstallArgs, ctx: Context) -> Result<ExitCode, Error> {
    install::preflight(&ctx)?;
    let options = InstallOptions {
        build: crate::interpreters::request::build_options(
            args.build.profile,
            &args.build.configure_opts,
            args.jobs,
            !args.no_ccache,
        )?,
        reinstall: args.reinstall,
        allow_missing_modules: args.allow_missing_modules,
        use_build_cache: !args.no_build_cache,
        system_check: !args.no_system_check,
        remote_cache: crate::interpreters::remote_cache::configured(args.remote_cache.as_deref()),
        push: args.push,
        no_build: args.no_build,
    };
    if let Some(url) = &options.remote_cache {
        // A URL that cannot name a store is a usage error now, not a warning per build.
        let remote = crate::interpreters::remote_cache::open(url, &ctx.limits)?;
        if options.push && matches!(remote, RemoteCache::Static(_)) {
            return Err(RemoteCacheError::ReadOnly { url: remote.url() }.into());
        }
    } else if options.push {
        return Err(Error::Usage {
            message: "--push needs a remote cache to push to".into(),
            hints: vec!["give --remote-cache oci://HOST/REPO, or set FTPY_REMOTE_CACHE".into()],
        });
    }

    let requests = crate::interpreters::request::parse_requests(&args.requests)?;
    let recipes = ctx.recipes()?;
    let groups = install::plan(&ctx, &recipes, &requests, args.pair, options.build.profile)?;

    if args.dry_run {
        for group in &groups {
            print_plan(&ctx, group, &options);
        }
        return Ok(ExitCode::SUCCESS);
    }

    let summary = install::install_all(&ctx, &groups, &options)?;
    let Some(error) = summary.first_error else {
        return Ok(ExitCode::SUCCESS);
    };
    if summary.total == 1 {
        return Err(error);
    }
    eprintln!(
        "error: {} of {} installs failed: {}",
        summary.failed.len(),
        summary.total,
        summary.failed.join(", ")
    );
    Ok(error.exit_code().into())
}

/// `--dry-run`: everything that would be done, nothing done.
fn print_plan(ctx: &Context, group: &InstallGroup, options: &InstallOptions) {
    let sources = install::sources_for(ctx, group.release).urls;
    for key in &group.keys {
        let prefix = ctx.home.version_dir(key);
        let build_prefix = crate::interpreters::relocate::build_prefix_for(&prefix);
        let args = build::configure_args(group.series, key.variant, &options.build, &build_prefix);
        use crate::interpreters::installation::ReceiptState;
        let requested = options.build.profile.to_string();
        let status = match crate::interpreters::installation::receipt_state(&prefix, key) {
            ReceiptState::Valid(receipt) if !options.reinstall && receipt.profile != requested => {
                format!(
                    "already installed with the {} profile: nothing to do (--reinstall would replace it with \
                     this {requested} build)",
                    receipt.profile
                )
            }
            ReceiptState::Valid(_) if !options.reinstall => "already installed (nothing to do)".into(),
            ReceiptState::Valid(_) => "installed; would be rebuilt (--reinstall)".into(),
            ReceiptState::Absent => "would be installed".into(),
            ReceiptState::Damaged(_) if !options.reinstall => "DAMAGED: refused without --reinstall".into(),
            ReceiptState::Damaged(_) => {
                "DAMAGED; would be rebuilt, the old tree kept in <home>/damaged".into()
            }
        };
        println!("{key}: {} build of {}, {status}", key.variant.label(), key.version);
        println!("  series:    {} ({})", group.series.name, group.series.free_threading.describe());
        for (i, url) in sources.iter().enumerate() {
            let url = crate::output::redact::redact(url);
            println!("  {} {url}", if i == 0 { "source:   " } else { "then:     " });
        }
        println!("  sha256:    {}", group.release.sha256);
        // Escaped: a `--configure-opt` may hold anything, and this line goes to a terminal.
        let configure = shell_words(std::iter::once("./configure".to_string()).chain(args));
        println!("  configure: {}", crate::output::terminal_text::escape_control(&configure));
        println!(
            "  make:      {} (jobserver of {} jobs)",
            crate::system::toolchain::make_program(),
            options.build.jobs
        );
        if build_prefix == prefix {
            println!(
                "  prefix:    {} (longer than the placeholder: built for it, not relocatable)",
                prefix.display()
            );
        } else {
            println!(
                "  prefix:    {} (the build is made for the placeholder above, then relocated)",
                prefix.display()
            );
        }
        match crate::system::toolchain::Toolchain::for_profile(options.build.profile) {
            Ok(toolchain) => {
                if options.build.profile.build_kind() == crate::interpreters::version::BuildKind::Tsan {
                    println!(
                        "  compiler:  {}",
                        crate::output::terminal_text::escape_control(&toolchain.compiler)
                    );
                }
                let inputs = install::build_inputs(group, key, &options.build, &toolchain);
                println!("  cache id:  {}", inputs.id());
            }
            Err(e) => println!("  compiler:  none: {e}"),
        }
        if let Some(url) = &options.remote_cache {
            println!(
                "  remote:    {url} (looked up before building{})",
                if options.push { "; pushed to after" } else { "" }
            );
        }
    }
    let to_build = group
        .keys
        .iter()
        .filter(|k| {
            options.reinstall
                || crate::interpreters::installation::read_receipt(&ctx.home.version_dir(k)).is_none()
        })
        .count();
    if to_build > 1 {
        println!("  (one download and unpack; the {to_build} builds run concurrently)");
    }
}

/// Quote for display only: nothing is ever run through a shell.
fn shell_words(words: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = words
        .map(|w| {
            if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c)) {
                w
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect();
    quoted.join(" ")
}
