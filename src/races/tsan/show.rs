//! How `ftpy run --tsan`'s report reads: a line of totals, then each unique race with its owner,
//! how often it was reported, and its two stacks' top frames; the races outside CPython first.

use crate::output::terminal_text::escape_control;
use crate::races::tsan::report::{Race, TsanReport};

/// CPython's bytecode interpreter loop: the frames below it run Python code.
const EVAL_LOOP: &str = "_PyEval_EvalFrameDefault";

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The report as lines of text.
pub fn report_lines(report: &TsanReport) -> Vec<String> {
    let outside = report.outside_cpython().count();
    if report.warnings == 0 {
        return vec!["ThreadSanitizer: no reports".into()];
    }
    let mut lines = vec![format!(
        "ThreadSanitizer: {} from {}: {}, {} outside CPython",
        plural(report.warnings, "warning", "warnings"),
        plural(report.processes, "process", "processes"),
        plural(report.races.len(), "unique race", "unique races"),
        outside
    )];
    if report.truncated {
        lines.push("(the reports were too large to read whole: what follows is their beginning)".into());
    }
    for (number, race) in report.races.iter().enumerate() {
        // The races outside CPython come first; CPython's own follow under their heading.
        if number == outside {
            lines.push(String::new());
            lines.push("in CPython itself (listed, not failing the run):".into());
        }
        lines.push(String::new());
        lines.extend(race_lines(number + 1, race));
    }
    lines
}

fn race_lines(number: usize, race: &Race) -> Vec<String> {
    let mut lines = vec![format!(
        "race {number}: {} in {}: {} in {}",
        escape_control(&race.kind),
        escape_control(&race.owner.to_string()),
        plural(race.occurrences, "report", "reports"),
        plural(race.processes, "process", "processes"),
    )];
    for stack in &race.example {
        if !stack.heading.is_empty() {
            lines.push(format!("  {}", escape_control(&stack.heading)));
        }
        // Down to the interpreter's eval loop: below it is Python code, which `--json` has.
        let shown =
            stack.frames.iter().position(|f| f.function == EVAL_LOOP).map_or(stack.frames.len(), |i| i + 1);
        for frame in &stack.frames[..shown] {
            let object = frame.object.as_deref().map(|o| o.rsplit('/').next().unwrap_or(o)).unwrap_or("?");
            lines.push(format!(
                "    #{} {} {} ({})",
                frame.index,
                escape_control(&frame.function),
                escape_control(frame.location.as_deref().unwrap_or("<no source>")),
                escape_control(object)
            ));
        }
    }
    if !race.summary.is_empty() {
        lines.push(format!("  SUMMARY: {}", escape_control(&race.summary)));
    }
    lines
}
