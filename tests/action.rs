//! ftpy's GitHub Action (`action.yml`) run as written, in a clean environment, the way the
//! Dockerfile's builder stage is tested: every `run:` step of the composite action in order, by
//! bash, with only the environment the runner gives (its `env:` mapping, GITHUB_* files, a fresh
//! HOME). There is no runner here, so `uses: actions/cache/*` steps are played by a directory
//! standing in for the Actions cache, keyed exactly as the step's `key:` says. The action is run
//! twice on "fresh runners": the first builds ftpy (install.sh, a real release build) and the
//! interpreters (the fake CPython source); the second restores both from the cache and builds
//! nothing.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Replace `${{ inputs.X }}`, `${{ steps.S.outputs.O }}`, `${{ runner.os }}` and
/// `${{ runner.arch }}`; anything else in `${{ }}` is a test failure (the action must keep its
/// expressions this simple).
fn evaluate(text: &str, inputs: &HashMap<String, String>, outputs: &HashMap<String, String>) -> String {
    let mut result = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        result.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("unclosed expression") + start;
        let expression = rest[start + 3..end].trim();
        let value = if let Some(name) = expression.strip_prefix("inputs.") {
            inputs.get(name).unwrap_or_else(|| panic!("no input {name}")).clone()
        } else if let Some(path) = expression.strip_prefix("steps.") {
            outputs.get(path).cloned().unwrap_or_default()
        } else if expression == "runner.os" {
            "Linux".into()
        } else if expression == "runner.arch" {
            "X64".into()
        } else {
            panic!("expression the test cannot evaluate: {expression}")
        };
        result.push_str(&value);
        rest = &rest[end + 2..];
    }
    result.push_str(rest);
    result
}

/// The `if:` conditions the action uses: `inputs.cache == 'true'`, and that with
/// `&& steps.S.outputs.cache-hit != 'true'`.
fn condition(text: &str, inputs: &HashMap<String, String>, outputs: &HashMap<String, String>) -> bool {
    text.split("&&").all(|clause| {
        let clause = clause.trim();
        let (left, right, equal) = match clause.split_once("!=") {
            Some((l, r)) => (l, r, false),
            None => {
                let (l, r) = clause.split_once("==").unwrap_or_else(|| panic!("condition {clause}"));
                (l, r, true)
            }
        };
        let left = evaluate(&format!("${{{{ {} }}}}", left.trim()), inputs, outputs);
        let right = right.trim().trim_matches('\'');
        (left == right) == equal
    })
}

fn read_pairs(file: &Path) -> Vec<(String, String)> {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(status.success(), "cp -a {} {}", from.display(), to.display());
}

struct Runner<'a> {
    action_dir: &'a Path,
    home: PathBuf,
    cache_store: &'a Path,
    runner_env: Vec<(String, String)>,
}

impl Runner<'_> {
    /// Run every step of the action with `given` inputs; return the step logs and outputs.
    fn run(&self, given: &[(&str, &str)]) -> (String, HashMap<String, String>) {
        let action: serde_yaml::Value =
            serde_yaml::from_str(&fs::read_to_string(self.action_dir.join("action.yml")).unwrap()).unwrap();
        let mut inputs: HashMap<String, String> = action["inputs"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_string(), v["default"].as_str().unwrap_or("").to_string()))
            .collect();
        for (k, v) in given {
            assert!(inputs.contains_key(*k), "no input {k}");
            inputs.insert(k.to_string(), v.to_string());
        }
        // A fresh runner: the same HOME path, nothing in it.
        let _ = fs::remove_dir_all(&self.home);
        fs::create_dir_all(&self.home).unwrap();
        let files = self.home.join("_runner");
        fs::create_dir_all(&files).unwrap();
        let mut path = std::env::var("PATH").unwrap();
        let mut job_env: Vec<(String, String)> = Vec::new();
        let mut outputs: HashMap<String, String> = HashMap::new();
        let mut log = String::new();
        for (index, step) in action["runs"]["steps"].as_sequence().unwrap().iter().enumerate() {
            let id = step["id"].as_str().unwrap_or("");
            if let Some(when) = step["if"].as_str() {
                if !condition(when, &inputs, &outputs) {
                    continue;
                }
            }
            if let Some(uses) = step["uses"].as_str() {
                let with = &step["with"];
                let key = evaluate(with["key"].as_str().unwrap(), &inputs, &outputs);
                let target = PathBuf::from(evaluate(with["path"].as_str().unwrap(), &inputs, &outputs));
                assert!(target.is_absolute() && target.starts_with(&self.home), "cache path {target:?}");
                let stored = self.cache_store.join(&key);
                if uses.starts_with("actions/cache/restore@") {
                    let hit = stored.exists();
                    if hit {
                        fs::create_dir_all(target.parent().unwrap()).unwrap();
                        copy_tree(&stored, &target);
                    }
                    outputs.insert(format!("{id}.outputs.cache-hit"), hit.to_string());
                    log.push_str(&format!("[{uses} {key}: hit={hit}]\n"));
                } else if uses.starts_with("actions/cache/save@") {
                    assert!(target.exists(), "saving {} that does not exist", target.display());
                    assert!(!stored.exists(), "saving {key} twice");
                    copy_tree(&target, &stored);
                    log.push_str(&format!("[{uses} {key}: saved]\n"));
                } else {
                    panic!("a step uses {uses}: the test knows only actions/cache");
                }
                continue;
            }
            let script =
                step["run"].as_str().unwrap_or_else(|| panic!("step {index} has neither run nor uses"));
            assert_eq!(step["shell"].as_str(), Some("bash"), "composite steps name their shell");
            let output_file = files.join(format!("output-{index}"));
            let mut command = Command::new("bash");
            command
                .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
                .env_clear()
                .env("PATH", &path)
                .env("HOME", &self.home)
                .env("CI", "true")
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_ACTION_PATH", self.action_dir)
                .env("GITHUB_OUTPUT", &output_file)
                .env("GITHUB_ENV", files.join("env"))
                .env("GITHUB_PATH", files.join("path"))
                .envs(self.runner_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .envs(job_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .current_dir(&self.home)
                .stdin(std::process::Stdio::null());
            if let Some(env) = step["env"].as_mapping() {
                for (k, v) in env {
                    command.env(k.as_str().unwrap(), evaluate(v.as_str().unwrap_or(""), &inputs, &outputs));
                }
            }
            let out = command.output().unwrap();
            let text = format!("{}{}", stdout_of(&out), stderr_of(&out));
            log.push_str(&text);
            assert!(out.status.success(), "step {index} ({script}) failed:\n{text}");
            for (k, v) in read_pairs(&output_file) {
                outputs.insert(format!("{id}.outputs.{k}"), v);
            }
            // GITHUB_ENV and GITHUB_PATH reach the later steps, as on a runner.
            job_env = read_pairs(&files.join("env"));
            if let Ok(extra) = fs::read_to_string(files.join("path")) {
                for dir in extra.lines().rev() {
                    path = format!("{dir}:{path}");
                }
                let _ = fs::remove_file(files.join("path"));
            }
        }
        let mut action_outputs = HashMap::new();
        for (name, spec) in action["outputs"].as_mapping().unwrap() {
            let value = evaluate(spec["value"].as_str().unwrap(), &inputs, &outputs);
            action_outputs.insert(name.as_str().unwrap().to_string(), value);
        }
        (log, action_outputs)
    }
}

#[test]
fn real_build_the_action_s_steps_run_as_written_and_a_second_runner_restores_everything() {
    // The first runner makes ftpy's release build.
    real_build();
    assert!(
        Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0"),
        "the action installs packages with apt-get (with sudo on a runner): run this test as root"
    );
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fx = Fixture::with_release("3.14.6");
    let work = tempfile::TempDir::new().unwrap();
    let action_dir = work.path().join("action");
    let clone = Command::new("git").arg("clone").arg("--quiet").arg(&repo).arg(&action_dir).status().unwrap();
    assert!(clone.success(), "git clone of the checkout failed");
    let cache_store = work.path().join("actions-cache");
    fs::create_dir(&cache_store).unwrap();
    let real_home = PathBuf::from(std::env::var("HOME").unwrap());
    let cargo_home =
        std::env::var("CARGO_HOME").unwrap_or_else(|_| real_home.join(".cargo").display().to_string());
    let rustup_home =
        std::env::var("RUSTUP_HOME").unwrap_or_else(|_| real_home.join(".rustup").display().to_string());
    let runner = Runner {
        action_dir: &action_dir,
        home: work.path().join("runner-home"),
        cache_store: &cache_store,
        runner_env: vec![
            ("CARGO_HOME".into(), cargo_home),
            ("RUSTUP_HOME".into(), rustup_home),
            // Shared with the Dockerfile test: the release build of the dependencies is reused.
            ("CARGO_TARGET_DIR".into(), format!("{}/release-build", env!("CARGO_TARGET_TMPDIR"))),
            // The runner's mirror and recipes: the fake CPython source.
            ("FTPY_MIRROR".into(), fx.server.base.clone()),
            ("FTPY_RECIPES".into(), fx.recipes.path().display().to_string()),
            ("FTPY_TEST_RECORD".into(), fx.record.path().display().to_string()),
        ],
    };
    let inputs = [("python-version", "3.14.6"), ("pair", "true"), ("profile", "fast")];

    let (log, outputs) = runner.run(&inputs);
    assert!(log.contains("==> Building ftpy"), "the first runner builds ftpy: {log}");
    assert!(log.contains("Installing CPython build dependencies"), "{log}");
    assert!(log.contains(": saved]"), "{log}");
    let home = runner.home.join(".local/share/ftpy");
    let ft = home.join("versions/3.14.6t/bin/python3.14t");
    let gil = home.join("versions/3.14.6/bin/python3.14");
    assert_eq!(outputs["python-ft"], ft.display().to_string(), "{outputs:?}");
    assert_eq!(outputs["python-gil"], gil.display().to_string(), "{outputs:?}");
    assert_eq!(outputs["cache-hit"], "false");
    assert!(ft.exists() && gil.exists());
    let builds_before = fs::read_dir(fx.record.path()).unwrap().count();
    let saved: Vec<String> = list_dir(&cache_store);
    assert_eq!(saved.len(), 2, "ftpy and the builds: {saved:?}");
    assert!(saved.iter().any(|k| k.starts_with("ftpy-builds-Linux-ftpy-3.14.6+3.14.6t-")), "{saved:?}");

    // A fresh runner at the same path: ftpy and both builds come from the cache.
    let (log, outputs) = runner.run(&inputs);
    assert!(log.contains("ftpy restored from the cache"), "{log}");
    assert!(!log.contains("==> Building ftpy") && !log.contains("apt-get"), "{log}");
    assert!(log.contains("from the build cache"), "{log}");
    assert_eq!(outputs["cache-hit"], "true");
    assert!(ft.exists() && gil.exists());
    assert_eq!(fs::read_dir(fx.record.path()).unwrap().count(), builds_before, "nothing built again");
    assert_eq!(list_dir(&cache_store).len(), 2, "nothing saved twice");

    // Bad input is refused by the step, with a message.
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runner.run(&[("python-version", "3.14t; rm -rf /"), ("profile", "fast")])
    }));
    assert!(failed.is_err(), "a version with shell characters is refused");
}
