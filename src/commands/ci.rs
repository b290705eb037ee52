//! `ftpy ci github`: a ready GitHub Actions workflow that tests a project on the GIL and the
//! free-threaded build of each version, with ftpy's build cache restored by its key, and with
//! `--remote-cache` the builds pulled from a registry that only the default branch pushes to.

use std::process::ExitCode;

use crate::cli::CiCommand;
use crate::commands::remote_cache_arg::{self, RemoteCacheArg};
use crate::error::Error;
use crate::interpreters::version::VersionRequest;

pub fn run(command: CiCommand, ctx: &crate::context::Context) -> Result<ExitCode, Error> {
    match command {
        CiCommand::Github(args) => {
            for python in &args.python {
                let request: VersionRequest = python.parse()?;
                if request.minor.is_none() || request.variant != crate::interpreters::version::Variant::Gil {
                    return Err(Error::Usage {
                        message: format!(
                            "`{python}`: give series like 3.13 or 3.14; both builds of each are tested"
                        ),
                        hints: vec!["`ftpy ci github --python 3.13 3.14`".into()],
                    });
                }
                crate::interpreters::request::check_buildable(&ctx.recipes()?, &request, true)?;
            }
            if let Some(action) = &args.action {
                check_action_reference(action)?;
            }
            let remote = args.remote_cache.as_deref().map(remote_cache_arg::parse).transpose()?;
            if args.stress && args.test_command.split_whitespace().next() != Some("pytest") {
                return Err(Error::Usage {
                    message: format!("--stress needs pytest: the test command is `{}`", args.test_command),
                    hints: vec!["`ftpy ci github --stress` with the default test command (pytest)".into()],
                });
            }
            let mut workflow =
                github_workflow(&args.python, args.action.as_deref(), &args.test_command, remote.as_ref());
            if args.stress {
                workflow.push_str(&stress_job(
                    &args.python,
                    args.action.as_deref(),
                    &args.test_command,
                    remote.as_ref(),
                ));
            }
            print!("{workflow}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `owner/name@ref` or `owner/name/path@ref`, or a local `./path`: what `uses:` takes, with
/// nothing that could break out of the YAML line.
fn check_action_reference(action: &str) -> Result<(), Error> {
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let valid = match action.strip_prefix("./") {
        Some(path) => plain(path),
        None => action
            .split_once('@')
            .is_some_and(|(repo, reference)| plain(repo) && repo.contains('/') && plain(reference)),
    };
    if valid {
        return Ok(());
    }
    Err(Error::Usage {
        message: format!("`{action}` is not an action reference such as owner/ftpy@v1 or ./path"),
        hints: vec!["`ftpy ci github --action owner/ftpy@v1`".into()],
    })
}

/// The workflow text. Values are quoted for YAML; the shell lines use only matrix values.
///
/// Each job sets up one version's pair with ftpy's action (`action.yml`: ftpy and the builds come
/// from the Actions cache when they can), then does what a developer does on a laptop: `ftpy
/// venv` makes the twin environments, `ftpy run` runs the tests in both, side by side.
///
/// With a remote cache, the action pulls the builds from it and builds only on a miss. Pushing
/// to a registry is a job of its own, `builds`: it runs only on pushes to the default branch,
/// and it alone has write access (GitHub gives a job its permissions for all its steps); the
/// test jobs wait for it there, and elsewhere run at once with read access.
pub fn github_workflow(
    pythons: &[String],
    action: Option<&str>,
    test_command: &str,
    remote: Option<&RemoteCacheArg>,
) -> String {
    let pythons: Vec<String> = pythons.iter().map(|p| format!("\"{p}\"")).collect();
    let pythons = pythons.join(", ");
    let test_package = test_command.split_whitespace().next().unwrap_or("pytest");
    let how = match action {
        Some(action) => format!("# ftpy's action: {action}"),
        None => "# ftpy's action is checked out from the repository named by the repository variable\n\
                 # FTPY_REPOSITORY (owner/name of ftpy; FTPY_REF picks a branch or tag), or pass\n\
                 # `--action owner/name@ref` to `ftpy ci github` to use it directly."
            .to_string(),
    };
    let remote_note = remote.map(remote_note).unwrap_or_default();
    let matrix =
        format!("    strategy:\n      fail-fast: false\n      matrix:\n        python: [{pythons}]\n");
    let (builds, test_after_builds) = match remote.filter(|r| r.can_push()) {
        Some(remote) => (
            format!(
                "  # Pushes to the default branch pull the builds, build what the remote cache lacks and push\n  \
                 # it: the only job that may write to the registry.\n  \
                 builds:\n    \
                 name: Python ${{{{ matrix.python }}}}, builds for the remote cache\n    \
                 if: github.event_name == 'push' && github.ref == format('refs/heads/{{0}}', github.event.repository.default_branch)\n    \
                 runs-on: ubuntu-24.04\n{permissions}{matrix}    steps:\n{setup}",
                permissions = permissions(remote, true),
                setup = setup_steps(action, Some((remote, true)))
            ),
            "    # After the builds job on the default branch (skipped elsewhere), whatever its outcome.\n    \
             needs: builds\n    if: ${{ !cancelled() }}\n"
                .to_string(),
        ),
        None => (String::new(), String::new()),
    };
    let test_permissions = remote.map(|r| permissions(r, false)).unwrap_or_default();
    let setup = setup_steps(action, remote.map(|r| (r, false)));
    format!(
        r#"# Generated by `ftpy ci github`: test on the GIL and the free-threaded build of each CPython
# version, built from verified source by ftpy, side by side in one job. The Actions cache keeps
# ftpy and its builds, so later runs restore the interpreters in seconds instead of building them.
{remote_note}{how}
name: GIL and free-threaded
on: [push, pull_request]
jobs:
{builds}  test:
    name: Python ${{{{ matrix.python }}}}, GIL and free-threaded
{test_after_builds}    runs-on: ubuntu-24.04
{test_permissions}{matrix}    steps:
      - uses: actions/checkout@v4
{setup}      - name: Twin environments (.venv-gil, .venv-ft) with the project's requirements
        run: ftpy venv --python ${{{{ matrix.python }}}}
      - name: The test runner in both
        run: ftpy run -- python -m pip install {test_package}
      - name: Run the tests in both, side by side
        run: ftpy run -- python -m {test_command}
"#
    )
}

/// The `stress` job (`ftpy ci github --stress`): on the free-threaded build only, the tests
/// alone and then under threads; it fails on race candidates (exit 18) and keeps the JSON
/// report as an artifact. The same setup as the test job, so the same builds serve it.
pub fn stress_job(
    pythons: &[String],
    action: Option<&str>,
    test_command: &str,
    remote: Option<&RemoteCacheArg>,
) -> String {
    let pythons: Vec<String> = pythons.iter().map(|p| format!("\"{p}\"")).collect();
    let pythons = pythons.join(", ");
    let test_package = test_command.split_whitespace().next().unwrap_or("pytest");
    let after_builds = match remote.filter(|r| r.can_push()) {
        Some(_) => "    needs: builds\n    if: ${{ !cancelled() }}\n",
        None => "",
    };
    let permissions = remote.map(|r| permissions(r, false)).unwrap_or_default();
    let setup = setup_steps(action, remote.map(|r| (r, false)));
    format!(
        r#"  # The tests alone, then each in several threads at once (pytest-run-parallel, installed by
  # ftpy), on the free-threaded build: fails on tests that pass alone but fail under threads.
  stress:
    name: Python ${{{{ matrix.python }}}}, free-threaded, tests under threads
{after_builds}    runs-on: ubuntu-24.04
{permissions}    strategy:
      fail-fast: false
      matrix:
        python: [{pythons}]
    steps:
      - uses: actions/checkout@v4
{setup}      - name: Twin environments (.venv-gil, .venv-ft) with the project's requirements
        run: ftpy venv --python ${{{{ matrix.python }}}}
      - name: The test runner in the free-threaded environment
        run: ftpy run --ft -- python -m pip install {test_package}
      - name: The tests alone, then under threads
        run: ftpy run --stress --json -- python -m {test_command} > stress-report.json
      - name: Keep the stress report
        if: ${{{{ !cancelled() }}}}
        uses: actions/upload-artifact@v4
        with:
          name: stress-report-${{{{ matrix.python }}}}
          path: stress-report.json
"#
    )
}

/// The header lines that say where the builds come from and who may push.
fn remote_note(remote: &RemoteCacheArg) -> String {
    let url = &remote.url;
    if !remote.can_push() {
        return format!(
            "# Builds come from the read-only store {url}\n\
             # (written by `ftpy cache export`): each job restores what it holds and builds only what\n\
             # it lacks.\n"
        );
    }
    let who = if remote.is_ghcr() {
        "with the job's GITHUB_TOKEN and permissions: packages: write;\n\
         # other branches and pull requests only read (packages: read). A package first pushed from\n\
         # elsewhere must give this repository access in its settings.\n"
    } else {
        "with the secret FTPY_REMOTE_CACHE_TOKEN (the variable\n\
         # FTPY_REMOTE_CACHE_USER names its user, ftpy if unset); the test jobs only read, with the\n\
         # secret FTPY_REMOTE_CACHE_PULL_TOKEN, a read-only token (anonymous if unset).\n"
    };
    format!(
        "# Builds come from the remote cache {url}:\n\
         # each job pulls them and builds only what it lacks. Only the builds job, on pushes to the\n\
         # default branch, pushes to it, {who}"
    )
}

/// A job's `permissions:`: read the repository, and on ghcr.io read (or write) packages.
fn permissions(remote: &RemoteCacheArg, push: bool) -> String {
    let mut text = "    permissions:\n      contents: read\n".to_string();
    if remote.is_ghcr() {
        text.push_str(if push { "      packages: write\n" } else { "      packages: read\n" });
    }
    text
}

/// The steps that set up the pair with ftpy's action, given the remote cache and whether this
/// job pushes to it.
fn setup_steps(action: Option<&str>, remote: Option<(&RemoteCacheArg, bool)>) -> String {
    let name = match remote {
        Some((_, true)) => "Pull the pair, or build it, and push it",
        _ => "Set up the pair with ftpy",
    };
    let mut text = match action {
        Some(action) => format!("      - name: {name}\n        uses: {action}\n"),
        None => format!(
            "      - name: Check out ftpy's action\n        uses: actions/checkout@v4\n        with:\n          \
             repository: ${{{{ vars.FTPY_REPOSITORY }}}}\n          ref: ${{{{ vars.FTPY_REF }}}}\n          \
             path: .ftpy-action\n      - name: {name}\n        uses: ./.ftpy-action\n"
        ),
    };
    text.push_str("        with:\n          python-version: ${{ matrix.python }}\n          pair: true\n");
    let Some((remote, push)) = remote else {
        return text;
    };
    text.push_str(&format!("          remote-cache: \"{}\"\n", remote.url));
    if push {
        text.push_str("          push: true\n");
    }
    // Only the steps that talk to the registry get a credential.
    let env: &[(&str, &str)] = match (remote.can_push(), remote.is_ghcr(), push) {
        (false, _, _) => &[],
        (true, true, _) => &[("GITHUB_TOKEN", "secrets.GITHUB_TOKEN")],
        (true, false, true) => &[
            ("FTPY_REMOTE_CACHE_TOKEN", "secrets.FTPY_REMOTE_CACHE_TOKEN"),
            ("FTPY_REMOTE_CACHE_USER", "vars.FTPY_REMOTE_CACHE_USER"),
        ],
        (true, false, false) => &[
            ("FTPY_REMOTE_CACHE_TOKEN", "secrets.FTPY_REMOTE_CACHE_PULL_TOKEN"),
            ("FTPY_REMOTE_CACHE_USER", "vars.FTPY_REMOTE_CACHE_USER"),
        ],
    };
    if !env.is_empty() {
        text.push_str("        env:\n");
        for (name, value) in env {
            text.push_str(&format!("          {name}: ${{{{ {value} }}}}\n"));
        }
    }
    text
}
