//! `ftpy venv --status`: the pair, both environments, and how they differ. [`status`] probes
//! both environments and compares them; the command prints the [`TwinStatus`] it returns.

use std::path::{Path, PathBuf};

use crate::interpreters::version::Variant;
use crate::projects::gil_scan::{self, GilReport, ScanError};
use crate::projects::twin_venvs::{self, EnvInfo, Environment, VenvError};

/// What `ftpy venv --status` found, in the order it is shown.
#[derive(Debug)]
pub struct TwinStatus {
    pub root: PathBuf,
    /// `.venv-gil`, then `.venv-ft`.
    pub environments: Vec<EnvStatus>,
    /// When both environments answered: how they compare.
    pub comparison: Option<Comparison>,
    /// The GIL scan of `.venv-ft`, when it answered. A failed scan is kept here, not returned,
    /// so that what was found before it is still shown.
    pub gil_scan: Option<Result<GilReport, ScanError>>,
    /// The first problem found (`VenvError::Broken`): the status exits with it once shown.
    pub problem: Option<VenvError>,
}

/// One environment as `--status` sees it.
#[derive(Debug)]
pub struct EnvStatus {
    pub env: Environment,
    pub state: EnvState,
}

#[derive(Debug)]
pub enum EnvState {
    Missing,
    Present {
        /// What is wrong with it before it is run (no interpreter, no record).
        problem: Option<String>,
        /// What it said when run, or why it could not.
        probe: Result<Probed, String>,
    },
}

/// An environment that answered the probe.
#[derive(Debug)]
pub struct Probed {
    pub info: EnvInfo,
    /// The installation its record names, `?` without a record.
    pub made_from: String,
    /// It runs the build its name promises.
    pub variant_ok: bool,
}

impl Probed {
    /// `3.13.5t`.
    pub fn version(&self) -> String {
        format!("{}{}", self.info.version, if self.info.gil_disabled { "t" } else { "" })
    }
}

/// How the two environments compare.
#[derive(Debug)]
pub struct Comparison {
    /// The two Python versions (GIL, free-threaded) when they differ.
    pub versions_differ: Option<(String, String)>,
    /// Packages installed in both: `.venv-gil`'s count.
    pub packages: usize,
    /// `(name, version in .venv-gil, version in .venv-ft)` for each package that differs.
    pub differences: Vec<(String, Option<String>, Option<String>)>,
}

/// Probe and compare the project's twin environments. Fails only when neither exists; every
/// other problem is in the report.
pub fn status(root: &Path) -> Result<TwinStatus, VenvError> {
    let envs =
        [Environment::in_project(root, Variant::Gil), Environment::in_project(root, Variant::Freethreaded)];
    if envs.iter().all(|e| !e.exists()) {
        return Err(VenvError::NoEnvironments { root: root.to_path_buf() });
    }
    let mut first_problem: Option<(String, String)> = None;
    let mut environments = Vec::new();
    for env in envs {
        let problem = env.problem();
        if let Some(problem) = &problem {
            first_problem.get_or_insert((env.name().to_string(), problem.clone()));
            if !env.exists() {
                environments.push(EnvStatus { env, state: EnvState::Missing });
                continue;
            }
        }
        let record = env.record();
        let probe = match env.probe() {
            Ok(info) => {
                let made_from = record.as_ref().map(|r| r.key.clone()).unwrap_or_else(|| "?".into());
                let variant_ok = info.gil_disabled == (env.variant == Variant::Freethreaded);
                if !variant_ok {
                    first_problem.get_or_insert((env.name().to_string(), "it runs the other build".into()));
                }
                Ok(Probed { info, made_from, variant_ok })
            }
            Err(e) => {
                if problem.is_none() {
                    first_problem.get_or_insert((env.name().to_string(), e.to_string()));
                }
                Err(e.to_string())
            }
        };
        environments.push(EnvStatus { env, state: EnvState::Present { problem, probe } });
    }
    let probed = |i: usize| match &environments[i].state {
        EnvState::Present { probe: Ok(probed), .. } => Some(&probed.info),
        _ => None,
    };
    let comparison = match (probed(0), probed(1)) {
        (Some(gil), Some(ft)) => Some(Comparison {
            versions_differ: (gil.version != ft.version).then(|| (gil.version.clone(), ft.version.clone())),
            packages: gil.packages.len(),
            differences: twin_venvs::package_differences(&gil.packages, &ft.packages),
        }),
        _ => None,
    };
    let gil_scan = probed(1).map(|_| gil_scan::scan(&environments[1].env.python()));
    Ok(TwinStatus {
        root: root.to_path_buf(),
        environments,
        comparison,
        gil_scan,
        problem: first_problem.map(|(env, problem)| VenvError::Broken {
            env,
            root: root.to_path_buf(),
            problem,
        }),
    })
}
