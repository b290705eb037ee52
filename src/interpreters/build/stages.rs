//! The make runs of one build. A PGO build is driven stage by stage, not by make's default
//! target, so that each stage is timed and two of them cost less than CPython's own recipe:
//!
//! 1. `make profile-gen-stamp`: the instrumented interpreter, compiled *without* LTO
//!    (`-fno-lto` after configure's `-flto`). It only runs the training, once; the counters it
//!    writes belong to each object's own functions, instrumented before any link-time work, so
//!    the final LTO build reads them the same (the build log shows no coverage mismatch).
//!    CPython's recipe compiles it with LTO: fat LTO objects and a whole-program link, for a
//!    binary that is thrown away.
//! 2. `make profile-run-stamp`: the training, CPython's `--pgo` test subset, run by regrtest
//!    with `-j N` across the build's jobs instead of in one process. Every worker is the
//!    instrumented interpreter; gcc merges their counters into the same `.gcda` files under a
//!    lock, clang's go to one `.profraw` per process (`%p`) and are merged by llvm-profdata.
//!    The same tests run, so the profile covers the same code.
//! 3. `make`: configure's default target (profile-opt, or bolt-opt with BOLT): the final
//!    compile with the profile and LTO, the link, and for BOLT its own training and rewrite.
//!    With gcc, the link is given `-flto=N`: configure's bare `-flto` makes gcc 12 and later
//!    compile the link-time partitions one after the other ("using serial compilation of N
//!    LTRANS jobs"). The partitions are the same either way, so the code is too; only the wall
//!    time changes. (clang's ThinLTO link is parallel already, and `-flto=N` is not clang's.)
//!
//! A user's own `PROFILE_TASK` (given to configure through `--configure-opt`, or in the
//! environment) is kept.

use super::Profile;
pub use crate::system::toolchain::CompilerFamily;

/// One run of make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakeStage {
    /// What the terminal and the timings call it.
    pub phase: &'static str,
    /// The target; `None`: configure's default.
    pub target: Option<&'static str>,
    /// `NAME=value` arguments, which make passes down to its recursive runs.
    pub variables: Vec<String>,
    /// Run once more when it fails: the training is a test run, and a timing-sensitive test can
    /// fail once under load. Its stamp is not written, so the second run repeats only it.
    pub retry_once: bool,
    /// Phases begin within it, announced by make's output ([`FinalStagePhases`]): the LTO link
    /// and BOLT's runs of an optimized build's last stage. A fast build's one make has none.
    pub phases_within: bool,
}

pub const INSTRUMENTED: &str = "compile (instrumented for PGO, no LTO)";
pub const TRAINING: &str = "PGO training run";
pub const OPTIMIZED: &str = "compile (PGO + LTO)";
pub const LINK: &str = "LTO link, extension modules";
pub const BOLT_TRAINING: &str = "BOLT instrumentation and training run";
pub const BOLT_APPLY: &str = "BOLT rewrite";

/// The make runs `profile` needs, for a build with `jobs` jobs; `user_task`: the user gave
/// configure a `PROFILE_TASK` of their own (see [`user_profile_task`]), which is kept.
pub fn make_stages(
    profile: Profile,
    jobs: usize,
    user_task: bool,
    compiler: CompilerFamily,
) -> Vec<MakeStage> {
    if !profile.uses_pgo() {
        return vec![MakeStage {
            phase: "compile",
            target: None,
            variables: vec![],
            retry_once: false,
            phases_within: false,
        }];
    }
    let task: Vec<String> = if user_task { vec![] } else { vec![profile_task(jobs)] };
    let mut last = task.clone();
    if compiler == CompilerFamily::Gcc && jobs > 1 {
        last.push(format!("LDFLAGS_NODIST=-flto={jobs}"));
    }
    vec![
        MakeStage {
            phase: INSTRUMENTED,
            target: Some("profile-gen-stamp"),
            variables: vec!["CFLAGS_NODIST=-fno-lto".into(), "LDFLAGS_NODIST=-fno-lto".into()],
            retry_once: false,
            phases_within: false,
        },
        MakeStage {
            phase: TRAINING,
            target: Some("profile-run-stamp"),
            variables: task.clone(),
            retry_once: true,
            phases_within: false,
        },
        // BOLT's training runs PROFILE_TASK as well, one `.fdata` per process.
        MakeStage { phase: OPTIMIZED, target: None, variables: last, retry_once: false, phases_within: true },
    ]
}

/// Whether the user gave configure a `PROFILE_TASK`: as a configure argument
/// (`--configure-opt 'PROFILE_TASK=...'`) or in the environment configure runs in, as pyenv's
/// users do. configure writes it into the Makefile, where ftpy leaves it.
pub fn user_profile_task(extra_configure: &[String], environment: &[(String, String)]) -> bool {
    extra_configure.iter().any(|a| a.starts_with("PROFILE_TASK="))
        || environment.iter().any(|(name, value)| name == "PROFILE_TASK" && !value.trim().is_empty())
}

/// CPython's own task (`-m test --pgo --timeout=$(TESTTIMEOUT)`, make expands the timeout),
/// spread over `jobs` worker processes.
fn profile_task(jobs: usize) -> String {
    let mut task = "PROFILE_TASK=-m test --pgo --timeout=$(TESTTIMEOUT)".to_string();
    if jobs > 1 {
        task.push_str(&format!(" -j{jobs}"));
    }
    task
}

/// Follows make's output through the phases of the last stage. Each phase is entered once, at
/// the first line that announces it, and never left for an earlier one: a second link line (a
/// relink) is not a new phase.
#[derive(Debug, Default)]
pub struct FinalStagePhases {
    entered: Vec<&'static str>,
}

impl FinalStagePhases {
    /// The phase `line` begins, if it begins one not entered yet.
    pub fn entered_by(&mut self, line: &str) -> Option<&'static str> {
        let phase = phase_within_final_stage(line)?;
        if self.entered.contains(&phase) {
            return None;
        }
        self.entered.push(phase);
        Some(phase)
    }
}

/// A phase that begins in the middle of the last stage, announced by a line of make's output.
pub fn phase_within_final_stage(line: &str) -> Option<&'static str> {
    let trimmed = line.trim_start();
    if trimmed.contains("llvm-bolt") && trimmed.contains("-instrument ") {
        Some(BOLT_TRAINING)
    } else if trimmed.contains("llvm-bolt") && trimmed.contains("-data=") {
        Some(BOLT_APPLY)
    } else if !trimmed.starts_with('#')
        && trimmed.contains(" -o python ")
        && trimmed.contains("Programs/python.o")
    {
        Some(LINK)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_tsan_builds_are_one_make_run() {
        for profile in [Profile::Fast, Profile::Tsan] {
            let stages = make_stages(profile, 2, false, CompilerFamily::Gcc);
            assert_eq!(stages.len(), 1);
            assert_eq!(stages[0].target, None);
            assert!(stages[0].variables.is_empty());
            assert!(!stages[0].phases_within, "no LTO link to find in a {profile} build");
        }
    }

    #[test]
    fn an_optimized_build_is_instrumented_without_lto_and_trained_in_parallel() {
        let stages = make_stages(Profile::Optimized, 2, false, CompilerFamily::Gcc);
        let targets: Vec<_> = stages.iter().map(|s| s.target).collect();
        assert_eq!(targets, [Some("profile-gen-stamp"), Some("profile-run-stamp"), None]);
        assert_eq!(stages[0].variables, ["CFLAGS_NODIST=-fno-lto", "LDFLAGS_NODIST=-fno-lto"]);
        assert_eq!(stages[1].variables, ["PROFILE_TASK=-m test --pgo --timeout=$(TESTTIMEOUT) -j2"]);
        assert!(stages[1].retry_once && !stages[0].retry_once && !stages[2].retry_once);
        // BOLT trains the same way; gcc's link compiles its partitions in parallel.
        assert_eq!(
            stages[2].variables,
            ["PROFILE_TASK=-m test --pgo --timeout=$(TESTTIMEOUT) -j2", "LDFLAGS_NODIST=-flto=2"]
        );
        let clang = make_stages(Profile::Max, 2, false, CompilerFamily::Clang);
        assert_eq!(clang[2].variables, stages[1].variables, "ThinLTO is parallel already");
        // One job: the task as CPython has it.
        let one = make_stages(Profile::Optimized, 1, false, CompilerFamily::Gcc);
        assert_eq!(one[1].variables, ["PROFILE_TASK=-m test --pgo --timeout=$(TESTTIMEOUT)"]);
    }

    #[test]
    fn the_users_profile_task_is_kept() {
        let extra = vec!["PROFILE_TASK=-m test --pgo-extended".to_string()];
        assert!(user_profile_task(&extra, &[]));
        let environment = [("PROFILE_TASK".to_string(), "-m test --pgo-extended".to_string())];
        assert!(user_profile_task(&[], &environment));
        assert!(!user_profile_task(&[], &[("PROFILE_TASK".into(), " ".into())]), "empty: configure's own");
        assert!(!user_profile_task(&["--with-lto".into()], &[("CFLAGS".into(), "-O2".into())]));
        let stages = make_stages(Profile::Max, 2, true, CompilerFamily::Clang);
        assert!(stages.iter().all(|s| !s.variables.iter().any(|v| v.starts_with("PROFILE_TASK="))));
    }

    #[test]
    fn each_phase_of_the_last_stage_is_entered_once() {
        let link = "clang -o python Programs/python.o libpython3.14.a";
        let inst = "llvm-bolt python -instrument -o python.bolt_inst";
        let apply = "llvm-bolt python -o python.bolt -data=python.fdata";
        let mut phases = FinalStagePhases::default();
        let seen: Vec<_> = [link, "clang -c x.c", link, inst, link, inst, apply, apply, link]
            .iter()
            .filter_map(|line| phases.entered_by(line))
            .collect();
        assert_eq!(seen, [LINK, BOLT_TRAINING, BOLT_APPLY]);
    }

    #[test]
    fn the_link_and_bolt_are_found_in_makes_output() {
        let link =
            "gcc -pthread    -Xlinker -export-dynamic -o python Programs/python.o libpython3.14.a -ldl";
        assert_eq!(phase_within_final_stage(link), Some(LINK));
        assert_eq!(phase_within_final_stage("gcc -c -o Programs/python.o ../Programs/python.c"), None);
        let inst = "/usr/lib/llvm-19/bin/llvm-bolt \"python\" -instrument -instrumentation-file-append-pid -o python.bolt_inst";
        assert_eq!(phase_within_final_stage(inst), Some(BOLT_TRAINING));
        let apply = "/usr/lib/llvm-19/bin/llvm-bolt \"python.prebolt\" -o \"python.bolt\" -data=\"python.fdata\" -reorder-blocks=ext-tsp";
        assert_eq!(phase_within_final_stage(apply), Some(BOLT_APPLY));
        assert_eq!(phase_within_final_stage("# Run bolt against the merged data"), None);
    }
}
