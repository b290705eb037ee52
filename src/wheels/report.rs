//! How the wheels subsystem's results are shown: the check table and its summary line, and the
//! build table.

use std::io::IsTerminal;

use crate::output::terminal_text::escape_control;
use crate::wheels::build::{BuildReport, BuildState, Verified};
use crate::wheels::check::Summary;
use crate::wheels::resolve::{Row, Verdict};
use crate::wheels::tags::{Target, normalize_name};

fn colour(text: &str, code: u8) -> String {
    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

pub fn verdict_text(row: &Row, target: &Target) -> (String, u8) {
    match row.verdict {
        Verdict::TargetWheel => (format!("{} wheel", target.abi_tag()), 32),
        Verdict::PureWheel => ("pure-Python wheel".into(), 32),
        Verdict::Wheelhouse => ("built by ftpy (wheelhouse)".into(), 32),
        Verdict::MustBuild => ("sdist only: must be built".into(), 33),
        Verdict::WillNotLoad => ("no wheel that loads".into(), 31),
        Verdict::NotFound => ("not found".into(), 31),
        Verdict::DirectReference => ("path or URL".into(), 36),
        Verdict::Unchecked => ("could not be checked".into(), 31),
    }
}

/// The table on stdout. Names, versions and notes come from the user's files and the index:
/// control characters in them are shown escaped.
pub fn print_table(rows: &[Row], target: &Target) {
    let name_width = column_width(rows.iter().map(|r| r.name.as_str()), MAX_NAME_COLUMN);
    let version_width =
        column_width(rows.iter().map(|r| r.version.as_deref().unwrap_or("-")), MAX_VERSION_COLUMN);
    println!("{:<name_width$}  {:<version_width$} {:<28} notes", "package", "version", "status");
    for row in rows {
        let (text, code) = verdict_text(row, target);
        let mut notes: Vec<String> = Vec::new();
        if !row.wheel_mismatches.is_empty() && row.verdict != Verdict::Wheelhouse {
            let kinds: Vec<String> = row.wheel_mismatches.iter().map(|m| m.describe(target)).collect();
            notes.push(format!("wheels only for {}", kinds.join(", ")));
        }
        if let Some(newest) = &row.newest {
            notes.push(format!("newest {newest} has nothing that loads"));
        }
        if row.verdict == Verdict::Wheelhouse {
            // What the index offers no longer matters: the wheel is here.
        } else if let Some(binary) = &row.prefer_binary {
            notes.push(format!("--prefer-binary would take {binary}"));
        } else if matches!(row.verdict, Verdict::MustBuild | Verdict::WillNotLoad) {
            notes.push("no release has a wheel for this target".into());
        }
        if let Some(ft) = &row.free_threading {
            notes.push(format!("Free Threading: {ft}"));
        }
        if !row.direct && !row.required_by.is_empty() {
            notes.push(format!("via {}", row.required_by.join(", ")));
        }
        notes.extend(row.notes.iter().cloned());
        let line = format!(
            "{:<name_width$}  {:<version_width$} {} {}",
            fit(&row.name, name_width),
            fit(row.version.as_deref().unwrap_or("-"), version_width),
            colour(&format!("{text:<28}"), code),
            escape_control(&notes.join("; "))
        );
        println!("{}", line.trim_end());
    }
}

/// Table columns are as wide as their longest cell, within these bounds; longer cells are
/// shortened (the JSON report has them whole).
const MAX_NAME_COLUMN: usize = 40;
const MAX_VERSION_COLUMN: usize = 40;
const MIN_COLUMN: usize = 7;

fn column_width<'a>(cells: impl Iterator<Item = &'a str>, max: usize) -> usize {
    cells.map(|c| escape_control(c).chars().count()).max().unwrap_or(0).clamp(MIN_COLUMN, max)
}

/// `text` escaped, and cut to `width` characters with a `…` at the end when longer.
fn fit(text: &str, width: usize) -> String {
    let escaped = escape_control(text);
    if escaped.chars().count() <= width {
        return escaped.into_owned();
    }
    let mut out: String = escaped.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn print_summary(summary: &Summary, label: &str) {
    let mut parts = Vec::new();
    if summary.must_build > 0 {
        parts.push(format!("{} must be built (`ftpy wheels build`)", summary.must_build));
    }
    if summary.will_not_load > 0 {
        parts.push(format!("{} will not load", summary.will_not_load));
    }
    if summary.not_found > 0 {
        parts.push(format!("{} not found", summary.not_found));
    }
    if summary.unchecked > 0 {
        parts.push(format!("{} could not be checked", summary.unchecked));
    }
    let line = format!("{} of {} ready for {label}", summary.ready, summary.total);
    if parts.is_empty() {
        println!("{}", colour(&line, 32));
    } else {
        println!("{}; {}", colour(&line, 33), parts.join(", "));
    }
}

fn print_build_report(
    states: &[(Row, BuildState)],
    verified: &Verified,
    blocked: &std::collections::BTreeMap<String, String>,
) {
    let name_width = column_width(states.iter().map(|(r, _)| r.name.as_str()), MAX_NAME_COLUMN);
    let version_width =
        column_width(states.iter().map(|(r, _)| r.version.as_deref().unwrap_or("-")), MAX_VERSION_COLUMN);
    println!("{:<name_width$}  {:<version_width$} {:<10} GIL", "package", "version", "wheel");
    for (row, state) in states {
        let gil = match (state, verified) {
            (BuildState::Failed { .. }, _) => "-".to_string(),
            _ if blocked.contains_key(&row.name) => {
                format!(
                    "not checked: needs {}, which cannot be installed",
                    escape_control(&blocked[&row.name])
                )
            }
            (_, Verified::Scanned(r)) => {
                let name = normalize_name(&row.name);
                let culprits: Vec<&str> = r
                    .culprits
                    .iter()
                    .filter(|c| c.distribution.as_deref().map(normalize_name).as_deref() == Some(&name))
                    .map(|c| c.module.as_str())
                    .collect();
                if culprits.is_empty() {
                    "stays off".to_string()
                } else {
                    format!(
                        "TURNED BACK ON by {} (works, but the process loses free-threading)",
                        culprits.join(", ")
                    )
                }
            }
            (_, Verified::InstallFailed(_)) => "not checked: the scratch install failed".to_string(),
            (_, Verified::Nothing) => "-".to_string(),
        };
        let what = match state {
            BuildState::Built(_) => "built",
            BuildState::Reused(_) => "reused",
            BuildState::Failed { .. } => "FAILED",
        };
        println!(
            "{:<name_width$}  {:<version_width$} {:<10} {gil}",
            fit(&row.name, name_width),
            fit(row.version.as_deref().unwrap_or("-"), version_width),
            what
        );
    }
    if let Verified::Scanned(r) = verified {
        for (module, error) in &r.import_errors {
            println!("  note: {module} could not be imported on its own: {}", escape_control(error));
        }
    }
}

/// The outcome of `ftpy wheels build` on stdout: the table of builds and the wheelhouse, or that
/// nothing needed building.
pub fn print_build(report: &BuildReport) {
    if report.nothing_to_build() {
        println!(
            "Nothing to build: every requirement has a wheel for {} or cannot be built from an sdist",
            report.label
        );
        return;
    }
    print_build_report(&report.builds, &report.verified, &report.blocked);
    println!("wheelhouse: {}", report.wheelhouse.display());
}
