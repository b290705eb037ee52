//! A project's twin virtual environments: one per build of an installed pair, created with the
//! base interpreter's own `venv` module, and replaced as a unit: the old pair is set aside until
//! the new one is complete, and put back if anything fails.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::interpreters::installation::Installation;
use crate::interpreters::version::Variant;
use crate::projects::project;

const ENV_PROBE: &str = include_str!("python/env_probe.py");

/// ftpy's note inside each environment: which installation it came from and what went in.
pub const RECORD_FILE: &str = "ftpy-venv.json";

#[derive(Clone, Debug)]
pub struct Environment {
    pub variant: Variant,
    pub path: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnvRecord {
    /// The installation it was created from, e.g. `3.13.5t`.
    pub key: String,
    pub base_interpreter: PathBuf,
    pub requirements: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// What the environment's interpreter says about itself.
#[derive(Clone, Debug, Deserialize)]
pub struct EnvInfo {
    pub version: String,
    pub gil_disabled: bool,
    pub gil_enabled: bool,
    pub prefix: PathBuf,
    pub base_prefix: PathBuf,
    pub packages: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error("cannot create {}: {message}", path.display())]
    Create { path: PathBuf, message: String },
    #[error("{} cannot be inspected: {message}", path.display())]
    Probe { path: PathBuf, message: String },
    #[error("{} is not what was asked for: {problem}", path.display())]
    Wrong { path: PathBuf, problem: String },
    #[error("{} has no twin environments ({} and {})", root.display(), project::GIL_ENV, project::FT_ENV)]
    NoEnvironments { root: PathBuf },
    #[error("{env} in {} cannot be used: {problem}", root.display())]
    Broken { env: String, root: PathBuf, problem: String },
}

impl crate::error::Diagnose for VenvError {
    fn exit_code(&self) -> crate::error::ExitCode {
        use crate::error::ExitCode;
        match self {
            VenvError::Wrong { .. } => ExitCode::CheckFailed,
            VenvError::Create { .. } | VenvError::Probe { .. } => ExitCode::LocalError,
            VenvError::NoEnvironments { .. } | VenvError::Broken { .. } => ExitCode::NotFound,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            VenvError::Create { .. } => vec![
                "check the base interpreter runs (`ftpy which 3.13t`), or reinstall it with `ftpy install --reinstall`".into(),
            ],
            VenvError::Wrong { .. } => {
                vec!["recreate both with `ftpy venv`; if it happens again, reinstall the pair with `ftpy install --pair --reinstall`".into()]
            }
            VenvError::Probe { .. } => {
                vec!["its base interpreter may have been uninstalled: run `ftpy venv` again to recreate both".into()]
            }
            VenvError::Broken { .. } => {
                vec!["recreate both with `ftpy venv` in the project directory (`ftpy venv --status` shows them)".into()]
            }
            VenvError::NoEnvironments { .. } => vec!["create them with `ftpy venv` in the project directory".into()],
        }
    }
}

impl Environment {
    pub fn in_project(root: &Path, variant: Variant) -> Environment {
        Environment { variant, path: root.join(project::env_name(variant)) }
    }

    pub fn name(&self) -> &'static str {
        project::env_name(self.variant)
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.path.join("bin")
    }

    pub fn python(&self) -> PathBuf {
        self.bin_dir().join("python")
    }

    pub fn exists(&self) -> bool {
        self.path.join("pyvenv.cfg").is_file()
    }

    /// What is wrong with it, if anything: its interpreter missing or dangling (the base was
    /// uninstalled or moved), or no record (an interrupted `ftpy venv`).
    pub fn problem(&self) -> Option<String> {
        if !self.exists() {
            return Some("it does not exist".into());
        }
        if std::fs::metadata(self.python()).is_err() {
            return Some(format!("its interpreter {} is missing or points nowhere", self.python().display()));
        }
        if self.record().is_none() {
            return Some(format!("it was not completed by `ftpy venv` (no {RECORD_FILE})"));
        }
        None
    }

    pub fn record(&self) -> Option<EnvRecord> {
        read_record(&self.path)
    }

    /// Written whole or not at all: recovery after a kill reads a record as "this environment
    /// was completed", so a torn one must never appear.
    pub fn write_record(&self, record: &EnvRecord) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
        crate::system::files::write_atomic(&self.path.join(RECORD_FILE), (text + "\n").as_bytes())
    }

    /// `<base> -m venv <path>`: with pip, from the interpreter's bundled wheel (no index needed).
    pub fn create(&self, base: &Installation) -> Result<(), VenvError> {
        let fail = |message: String| VenvError::Create { path: self.path.clone(), message };
        let output = crate::system::python::python(base.interpreter())
            .args(["-m", "venv"])
            .arg(&self.path)
            .output()
            .map_err(|e| fail(format!("cannot run {}: {e}", base.interpreter().display())))?;
        if !output.status.success() {
            return Err(fail(String::from_utf8_lossy(&output.stderr).trim().to_string()));
        }
        Ok(())
    }

    pub fn probe(&self) -> Result<EnvInfo, VenvError> {
        let fail = |message: String| VenvError::Probe { path: self.path.clone(), message };
        let output = crate::system::python::python(self.python())
            .args(["-c", ENV_PROBE])
            .output()
            .map_err(|e| fail(format!("cannot run {}: {e}", self.python().display())))?;
        if !output.status.success() {
            return Err(fail(String::from_utf8_lossy(&output.stderr).trim().to_string()));
        }
        serde_json::from_slice(&output.stdout).map_err(|e| fail(format!("unreadable probe output: {e}")))
    }

    /// Check that the environment runs the build it was made from: version, variant, and that
    /// its prefix is this environment.
    pub fn verify(&self, base: &Installation) -> Result<EnvInfo, VenvError> {
        let info = self.probe()?;
        let wrong = |problem: String| VenvError::Wrong { path: self.path.clone(), problem };
        if info.version != base.key.version.to_string() {
            return Err(wrong(format!("it runs Python {}, not {}", info.version, base.key.version)));
        }
        let free_threaded = self.variant == Variant::Freethreaded;
        if info.gil_disabled != free_threaded {
            return Err(wrong(format!(
                "its interpreter is a {} build",
                if info.gil_disabled { "free-threaded" } else { "GIL" }
            )));
        }
        if free_threaded && info.gil_enabled {
            return Err(wrong("the GIL is enabled at start-up".into()));
        }
        let same = |a: &Path, b: &Path| fs::canonicalize(a).ok() == fs::canonicalize(b).ok();
        if !same(&info.prefix, &self.path) {
            return Err(wrong(format!("sys.prefix is {}", info.prefix.display())));
        }
        if !same(&info.base_prefix, &base.prefix) {
            return Err(wrong(format!("it was made from {}", info.base_prefix.display())));
        }
        Ok(info)
    }
}

/// Where the old environment at `target` waits while a new one is made: beside it, as
/// `<name>.previous-<pid>-<unique>`, where [`recover_interrupted`] looks after a kill.
pub fn aside_path(target: &Path) -> PathBuf {
    aside_name(target, &crate::system::files::unique_tag())
}

fn aside_name(target: &Path, tag: &str) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!("{name}.previous-{tag}"))
}

/// Hold `<home>/locks/venv-<project hash>.lock` while working on a project's environments;
/// wait (saying so) while another `ftpy venv` holds it.
pub fn lock_project(
    home: &crate::interpreters::home::Home,
    root: &Path,
    reporter: &crate::output::progress::Reporter,
) -> Result<fs::File, crate::error::Error> {
    use sha2::Digest;
    let dir = home.locks_dir();
    fs::create_dir_all(&dir).map_err(crate::error::Error::io("cannot create the locks directory"))?;
    let key = hex::encode(&sha2::Sha256::digest(root.to_string_lossy().as_bytes())[..8]);
    let file = fs::File::create(dir.join(format!("venv-{key}.lock")))
        .map_err(crate::error::Error::io("cannot create the project lock"))?;
    if file.try_lock().is_err() {
        reporter.info(format!("waiting for another `ftpy venv` working on {}", root.display()));
        file.lock().map_err(crate::error::Error::io("cannot lock the project"))?;
    }
    Ok(file)
}

/// Finish what a killed `ftpy venv` left in `root`: `<env>.previous-<pid>-<n>` directories whose
/// process is gone. When both environments carry records of one run (the stamp written last),
/// that run completed and the old copies go; otherwise every old copy is put back, so the two
/// environments always belong together. Returns what was done, for the user.
pub fn recover_interrupted(root: &Path) -> Vec<String> {
    let mut done = Vec::new();
    let targets = [root.join(project::GIL_ENV), root.join(project::FT_ENV)];
    let mut asides: Vec<(usize, PathBuf)> = Vec::new();
    let Ok(entries) = fs::read_dir(root) else { return done };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        for (index, target) in targets.iter().enumerate() {
            let name = target.file_name().expect("a name").to_string_lossy().into_owned();
            let Some(tag) = file.strip_prefix(&format!("{name}.previous-")) else { continue };
            let pid = tag.split('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| pid != std::process::id() && process_alive(pid)) {
                continue;
            }
            asides.push((index, entry.path()));
        }
    }
    if asides.is_empty() {
        return done;
    }
    let stamp = |t: &Path| -> Option<u64> { read_record(t).map(|r| r.created_at) };
    let completed = matches!((stamp(&targets[0]), stamp(&targets[1])), (Some(a), Some(b)) if a == b);
    for (index, aside) in asides {
        let file = aside.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let target = &targets[index];
        let name = target.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if completed {
            let _ = fs::remove_dir_all(&aside);
            done.push(format!("removed {file}, left by an interrupted `ftpy venv` that had completed"));
        } else {
            let _ = fs::remove_dir_all(target);
            if fs::rename(&aside, target).is_ok() {
                done.push(format!(
                    "put back {name} from {file}: an interrupted `ftpy venv` had replaced it half-way"
                ));
            }
        }
    }
    done
}

/// As [`recover_interrupted`], for an environment replaced on its own (`.venv-tsan`): an old copy
/// whose process is gone goes when the new environment was completed (it has its record), and
/// comes back otherwise.
pub fn recover_interrupted_alone(root: &Path, name: &str) -> Vec<String> {
    let mut done = Vec::new();
    let target = root.join(name);
    let Ok(entries) = fs::read_dir(root) else { return done };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(tag) = file.strip_prefix(&format!("{name}.previous-")) else { continue };
        let pid = tag.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| pid != std::process::id() && process_alive(pid)) {
            continue;
        }
        if read_record(&target).is_some() {
            let _ = fs::remove_dir_all(entry.path());
            done.push(format!("removed {file}, left by an interrupted `ftpy venv` that had completed"));
        } else {
            let _ = fs::remove_dir_all(&target);
            if fs::rename(entry.path(), &target).is_ok() {
                done.push(format!(
                    "put back {name} from {file}: an interrupted `ftpy venv` had replaced it half-way"
                ));
            }
        }
    }
    done
}

fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    unsafe { libc::kill(pid, 0) == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) }
}

/// Packages that differ between the two environments: (name, GIL side, free-threaded side).
pub fn package_differences(
    gil: &BTreeMap<String, String>,
    ft: &BTreeMap<String, String>,
) -> Vec<(String, Option<String>, Option<String>)> {
    let normalize = |name: &str| name.to_ascii_lowercase().replace(['_', '.'], "-");
    let gil: BTreeMap<String, &String> = gil.iter().map(|(n, v)| (normalize(n), v)).collect();
    let ft: BTreeMap<String, &String> = ft.iter().map(|(n, v)| (normalize(n), v)).collect();
    let mut names: Vec<&String> = gil.keys().chain(ft.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (a, b) = (gil.get(name), ft.get(name));
            (a != b).then(|| (name.clone(), a.map(|v| v.to_string()), b.map(|v| v.to_string())))
        })
        .collect()
}

/// The record in the environment at `path`, if it has a readable one: read bounded and without
/// blocking (an environment in a checked-out project may hold anything, a FIFO included).
fn read_record(path: &Path) -> Option<EnvRecord> {
    let bytes = crate::interpreters::installation::read_small_file(&path.join(RECORD_FILE), 1 << 20).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_replaced_whole_and_leaves_no_temporary() {
        let dir = tempfile::TempDir::new().unwrap();
        let env = Environment::in_project(dir.path(), Variant::Gil);
        fs::create_dir_all(&env.path).unwrap();
        for key in ["3.14.6", "3.14.7"] {
            let record = EnvRecord {
                key: key.into(),
                base_interpreter: "/home/versions/bin/python3.14".into(),
                requirements: "requirements.txt".into(),
                created_at: 1,
            };
            env.write_record(&record).unwrap();
            assert_eq!(env.record().map(|r| r.key).as_deref(), Some(key));
        }
        let names: Vec<_> = fs::read_dir(&env.path).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from(RECORD_FILE)]);
    }

    #[test]
    fn a_record_that_is_a_fifo_or_endless_is_no_record() {
        let dir = tempfile::TempDir::new().unwrap();
        let env = Environment::in_project(dir.path(), Variant::Freethreaded);
        fs::create_dir_all(&env.path).unwrap();
        let record = env.path.join(RECORD_FILE);
        let status = std::process::Command::new("mkfifo").arg(&record).status().unwrap();
        assert!(status.success());
        // In a thread, so that a wait for a writer fails the test instead of hanging it.
        let read = |env: Environment| {
            let (send, receive) = std::sync::mpsc::channel();
            std::thread::spawn(move || send.send(env.record().is_none()));
            receive.recv_timeout(std::time::Duration::from_secs(20)).expect("reading the record hung")
        };
        assert!(read(Environment::in_project(dir.path(), Variant::Freethreaded)));
        fs::remove_file(&record).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &record).unwrap();
        assert!(read(Environment::in_project(dir.path(), Variant::Freethreaded)));
    }

    #[test]
    fn differences_by_normalized_name() {
        let gil: BTreeMap<String, String> =
            [("Foo_Bar", "1.0"), ("same", "2"), ("onlygil", "1")].map(|(a, b)| (a.into(), b.into())).into();
        let ft: BTreeMap<String, String> =
            [("foo-bar", "1.1"), ("same", "2"), ("onlyft", "3")].map(|(a, b)| (a.into(), b.into())).into();
        assert_eq!(
            package_differences(&gil, &ft),
            vec![
                ("foo-bar".into(), Some("1.0".into()), Some("1.1".into())),
                ("onlyft".into(), None, Some("3".into())),
                ("onlygil".into(), Some("1".into()), None),
            ]
        );
    }

    #[test]
    fn replacement_restores_the_previous_environment() {
        let dir = tempfile::TempDir::new().unwrap();
        let target = dir.path().join(".venv-ft");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("old"), "").unwrap();
        let begin = |target: &Path| {
            let mut t = crate::system::files::Transaction::new(crate::system::files::Discard::InPlace);
            t.replace(target, aside_path(target)).unwrap();
            t
        };
        let r = begin(&target);
        assert!(!target.exists());
        fs::create_dir(&target).unwrap();
        fs::write(target.join("half"), "").unwrap();
        r.roll_back().unwrap();
        assert!(target.join("old").exists() && !target.join("half").exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        let r = begin(&target);
        fs::create_dir(&target).unwrap();
        r.commit();
        assert!(target.exists() && !target.join("old").exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        // Dropped without a decision (an early return, a panic): rolled back.
        fs::write(target.join("kept"), "").unwrap();
        {
            let _r = begin(&target);
            fs::create_dir(&target).unwrap();
        }
        assert!(target.join("kept").exists());
    }

    #[test]
    fn recovers_what_a_killed_run_left() {
        let dir = tempfile::TempDir::new().unwrap();
        let (gil, ft) = (dir.path().join(".venv-gil"), dir.path().join(".venv-ft"));
        let record = |path: &Path, stamp: u64| {
            let r = EnvRecord {
                key: "k".into(),
                base_interpreter: "/p".into(),
                requirements: "r".into(),
                created_at: stamp,
            };
            fs::write(path.join(RECORD_FILE), serde_json::to_string(&r).unwrap()).unwrap();
        };
        // Killed half-way: the GIL side finished, the free-threaded one did not. A pid that
        // cannot be running.
        for target in [&gil, &ft] {
            let aside = aside_name(target, "999999999-1");
            fs::create_dir(&aside).unwrap();
            fs::write(aside.join("old"), "").unwrap();
            fs::create_dir(target).unwrap();
        }
        record(&gil, 7);
        let done = recover_interrupted(dir.path());
        assert_eq!(done.len(), 2, "{done:?}");
        assert!(gil.join("old").exists() && ft.join("old").exists(), "both sides put back together");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);

        // Killed after both records were written: the new pair stays.
        for target in [&gil, &ft] {
            fs::rename(target, aside_name(target, "999999999-2")).unwrap();
            fs::create_dir(target).unwrap();
            record(target, 9);
        }
        recover_interrupted(dir.path());
        assert!(!gil.join("old").exists() && gil.join(RECORD_FILE).exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
