//! `ftpy venv --status`: the pair, both environments, and how they differ.

use std::path::Path;
use std::process::ExitCode;

use crate::commands::venv::{packages, print_gil_report};
use crate::error::Error;
use crate::interpreters::version::Variant;
use crate::projects::gil_scan;
use crate::projects::project;
use crate::projects::twin_venvs::{self, EnvInfo, Environment, VenvError};

/// `ftpy venv --status`: the pair, both environments, and how they differ.
pub fn status(root: &Path) -> Result<ExitCode, Error> {
    let envs =
        [Environment::in_project(root, Variant::Gil), Environment::in_project(root, Variant::Freethreaded)];
    if envs.iter().all(|e| !e.exists()) {
        return Err(VenvError::NoEnvironments { root: root.to_path_buf() }.into());
    }
    println!("project  {}", root.display());
    let mut infos: Vec<Option<EnvInfo>> = Vec::new();
    let mut first_problem: Option<(String, String)> = None;
    for env in &envs {
        if let Some(problem) = env.problem() {
            first_problem.get_or_insert((env.name().to_string(), problem.clone()));
            if !env.exists() {
                println!("{:<10} missing", env.name());
                infos.push(None);
                continue;
            }
            println!("{:<10} broken: {problem}", env.name());
        }
        let record = env.record();
        match env.probe() {
            Ok(info) => {
                let made_from = record.as_ref().map(|r| r.key.clone()).unwrap_or_else(|| "?".into());
                let variant_ok = info.gil_disabled == (env.variant == Variant::Freethreaded);
                println!(
                    "{:<10} Python {:<8} {:<14} {:>13}  made from {made_from}{}",
                    env.name(),
                    format!("{}{}", info.version, if info.gil_disabled { "t" } else { "" }),
                    if info.gil_disabled { "free-threaded" } else { "GIL" },
                    packages(info.packages.len()),
                    if variant_ok { "" } else { "  (WRONG BUILD for this name)" }
                );
                if !variant_ok {
                    first_problem.get_or_insert((env.name().to_string(), "it runs the other build".into()));
                }
                infos.push(Some(info));
            }
            Err(e) => {
                if env.problem().is_none() {
                    println!("{:<10} broken: {e}", env.name());
                    first_problem.get_or_insert((env.name().to_string(), e.to_string()));
                }
                infos.push(None);
            }
        }
    }
    if let [Some(gil), Some(ft)] = &infos[..] {
        if gil.version != ft.version {
            println!("versions differ: {} and {} (recreate both with `ftpy venv`)", gil.version, ft.version);
        }
        let differences = twin_venvs::package_differences(&gil.packages, &ft.packages);
        if differences.is_empty() {
            println!("packages: the same {} in both", packages(gil.packages.len()));
        } else {
            println!("packages that differ:");
            for (name, a, b) in differences {
                let show = |v: Option<String>| v.unwrap_or_else(|| "-".into());
                println!(
                    "  {name:<24} {:<12} {}",
                    format!("{}: {}", project::GIL_ENV, show(a)),
                    format!("{}: {}", project::FT_ENV, show(b))
                );
            }
        }
    }
    if infos[1].is_some() {
        print_gil_report(&gil_scan::scan(&envs[1].python())?, &envs[1]);
    }
    match first_problem {
        Some((env, problem)) => Err(VenvError::Broken { env, root: root.to_path_buf(), problem }.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
