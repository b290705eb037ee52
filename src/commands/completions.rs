//! `ftpy completions bash|zsh|fish` and `ftpy man`: generated from the command line definition,
//! so they never drift from it. The man page adds EXIT STATUS (from [`crate::error::ExitCode`])
//! and ENVIRONMENT (from [`ENVIRONMENT`], which a test checks against the variables the code
//! reads); `ftpy man --dir DIR` writes a page per subcommand too, the `ftpy-install(1)` that
//! ftpy(1) refers to.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::Error;

/// Every environment variable ftpy reads, and what for.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("FTPY_HOME", "where installations, caches and logs live (--home); default ~/.local/share/ftpy"),
    ("FTPY_RECIPES", "a directory of recipe files that add or override releases (--recipes)"),
    ("FTPY_MIRROR", "comma-separated mirrors laid out like python.org/ftp/python (--mirror)"),
    ("FTPY_MAX_DOWNLOAD_MIB", "the largest source download accepted, in MiB"),
    ("FTPY_DOWNLOAD_SPEED_TIME", "seconds a download may stay under the minimum rate before it is given up"),
    ("FTPY_RETRY_PAUSE_MS", "the first pause between download retries, in milliseconds"),
    ("XDG_DATA_HOME", "the data directory the default home is in"),
    ("CC", "the C compiler for builds, checked by `ftpy doctor`; part of the build-cache key"),
    ("CPPFLAGS", "extra preprocessor flags the header checks use"),
    ("MAKE", "the make program for builds (default: make)"),
    ("PATH", "where compilers, make and the tools the checks run are found"),
    ("LD_LIBRARY_PATH", "kept, with the new installation's lib/ added, when checking a build"),
    ("PIP_INDEX_URL", "the package index `ftpy wheels` checks against, as pip uses it"),
    ("PIP_EXTRA_INDEX_URL", "more indexes for `ftpy wheels`, as pip uses them"),
    ("PIP_NO_INDEX", "when true, `ftpy wheels check` has no index unless --index-url names one"),
    ("SSL_CERT_FILE", "a PEM bundle of certificate authorities to trust (also PIP_CERT, REQUESTS_CA_BUNDLE)"),
    ("PIP_CERT", "as SSL_CERT_FILE"),
    ("REQUESTS_CA_BUNDLE", "as SSL_CERT_FILE"),
    ("HTTPS_PROXY", "the proxy for downloads (also HTTP_PROXY, ALL_PROXY, NO_PROXY)"),
    ("PYTHON_GIL", "when 1, `ftpy run` notes that the free-threaded side runs with the GIL"),
    (
        "PYTHONPATH",
        "kept by `ftpy run --stress`, with the directory of ftpy's small reporting plugin put before it",
    ),
    (
        "TSAN_OPTIONS",
        "kept by `ftpy run --tsan`, with ftpy's halt_on_error, exitcode, log_path, stack_trace_format and suppressions after it (they win)",
    ),
    ("NO_COLOR", "when set, no colour in tables"),
    ("CI", "when set, no progress bars"),
    ("GITHUB_ACTIONS", "when true, output is grouped for GitHub Actions"),
    ("GITHUB_PATH", "in GitHub Actions, the file ftpy adds the interpreters' bin directory to"),
    ("GITHUB_OUTPUT", "in GitHub Actions, the file ftpy writes step outputs to"),
];

pub fn completions(args: CompletionsArgs) -> Result<ExitCode, Error> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "ftpy", &mut io::stdout());
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: ManArgs) -> Result<ExitCode, Error> {
    match args.dir {
        None => {
            let mut page = Vec::new();
            render_main_page(&mut page).map_err(Error::io("cannot render the man page"))?;
            io::stdout().write_all(&page).map_err(Error::io("cannot write the man page"))?;
        }
        Some(dir) => {
            let written = write_pages(&dir).map_err(|source| Error::Io {
                context: format!("cannot write the man pages into {}", dir.display()),
                source,
            })?;
            for name in written {
                println!("{}", dir.join(name).display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// ftpy.1: clap's page, then EXIT STATUS and ENVIRONMENT.
fn render_main_page(out: &mut Vec<u8>) -> io::Result<()> {
    // No `help` subcommand: it would be a page (ftpy-help(1)) that says nothing --help does not.
    clap_mangen::Man::new(Cli::command().disable_help_subcommand(true)).render(out)?;
    out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for code in crate::error::ExitCode::ALL {
        let (number, meaning) = (code.code(), code.meaning());
        out.extend_from_slice(format!(".TP\n\\fB{number}\\fR\n{}\n", roff_text(meaning)).as_bytes());
    }
    out.extend_from_slice(b".SH ENVIRONMENT\n");
    for (name, meaning) in ENVIRONMENT {
        out.extend_from_slice(
            format!(".TP\n\\fB{}\\fR\n{}\n", roff_text(name), roff_text(meaning)).as_bytes(),
        );
    }
    Ok(())
}

/// Plain text for a roff text line: backslashes and hyphens escaped, and no line that a
/// leading `.` or `'` would turn into a request.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) { format!("\\&{escaped}") } else { escaped }
}

/// Write ftpy.1 and ftpy-<sub>[-<subsub>].1 for every visible subcommand into `dir`, each
/// whole or not at all ([`crate::system::files::write_atomic`]); return the file names.
fn write_pages(dir: &Path) -> io::Result<Vec<String>> {
    fs::create_dir_all(dir)?;
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let mut pages: Vec<(String, Vec<u8>)> = Vec::new();
    let mut main = Vec::new();
    render_main_page(&mut main)?;
    pages.push(("ftpy.1".into(), main));
    let mut pending: Vec<clap::Command> =
        root.get_subcommands().filter(|c| !c.is_hide_set()).cloned().collect();
    while let Some(command) = pending.pop() {
        pending.extend(command.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
        let man = clap_mangen::Man::new(command);
        let mut page = Vec::new();
        man.render(&mut page)?;
        pages.push((man.get_filename(), page));
    }
    pages.sort();
    for (name, page) in &pages {
        crate::system::files::write_atomic(&dir.join(name), page)?;
    }
    Ok(pages.into_iter().map(|(name, _)| name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the environment variables the code reads: `var("X")`, `var_os("X")`, a
    /// clap `env = "X"`, a closure `env("X")`, and the names listed in a `for var in [...]`.
    fn variables_read(source: &str) -> Vec<String> {
        let mut names = Vec::new();
        let quoted_after = |line: &str, marker: &str, names: &mut Vec<String>| {
            for (at, _) in line.match_indices(marker) {
                if marker == "env(\"" && line[..at].ends_with('.') {
                    continue; // `.env("X", ..)` sets a child's variable
                }
                let rest = &line[at + marker.len()..];
                if let Some(name) = rest.split('"').next() {
                    names.push(name.to_string());
                }
            }
        };
        for line in source.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for marker in ["var(\"", "var_os(\"", "env = \"", "env(\""] {
                quoted_after(line, marker, &mut names);
            }
            if line.contains("for var in [") {
                names.extend(line.split('"').skip(1).step_by(2).map(str::to_string));
            }
        }
        names.retain(|n| {
            !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        });
        names
    }

    fn sources(dir: &Path, into: &mut Vec<(String, String)>) {
        for entry in fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, into);
            } else if path.extension().is_some_and(|e| e == "rs") {
                into.push((path.display().to_string(), fs::read_to_string(&path).unwrap()));
            }
        }
    }

    #[test]
    fn the_man_page_lists_every_variable_the_code_reads() {
        let mut files = Vec::new();
        sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut read = Vec::new();
        for (_, text) in &files {
            read.extend(variables_read(text));
        }
        read.retain(|n| !n.starts_with("FTPY_TEST_"));
        read.sort();
        read.dedup();
        for must in
            ["FTPY_HOME", "FTPY_RECIPES", "FTPY_MIRROR", "CC", "MAKE", "PIP_INDEX_URL", "SSL_CERT_FILE"]
        {
            assert!(read.iter().any(|n| n == must), "the scan finds {must}: {read:?}");
        }
        let listed: Vec<&str> = ENVIRONMENT.iter().map(|(n, _)| *n).collect();
        for name in &read {
            assert!(listed.contains(&name.as_str()), "{name} is read but not in ENVIRONMENT (the man page)");
        }
        assert_eq!(variables_read("cmd.env(\"LC_ALL\", \"C\"); std::env::var(\"X_Y\")"), ["X_Y"]);
    }

    /// Each page is written through a fresh temporary file: one left at a fixed name (here a
    /// symlink another user planted) is neither written through nor moved into place.
    #[test]
    fn man_pages_are_written_through_fresh_temporaries() {
        let dir = tempfile::TempDir::new().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "mine").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(".ftpy.1.tmp")).unwrap();
        let names = write_pages(dir.path()).unwrap();
        assert!(names.iter().any(|n| n == "ftpy.1"), "{names:?}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "mine");
        let page = fs::symlink_metadata(dir.path().join("ftpy.1")).unwrap();
        assert!(page.is_file(), "{page:?}");
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".partial"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn the_man_page_has_exit_status_and_environment() {
        let mut page = Vec::new();
        render_main_page(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains("\n.TH ftpy 1 "), "{page}");
        assert!(page.contains(".SH \"EXIT STATUS\"\n.TP\n\\fB0\\fR\nsuccess\n"), "{page}");
        assert!(page.contains("\\fB130\\fR\ninterrupted"), "{page}");
        assert!(page.contains(".SH ENVIRONMENT\n.TP\n\\fBFTPY_HOME\\fR\n"), "{page}");
        assert!(page.contains("ftpy\\-install(1)"), "the page it refers to: {page}");
        assert_eq!(roff_text(".x-y\\"), "\\&.x\\-y\\e");
    }

    #[test]
    fn man_dir_writes_a_page_for_every_page_referred_to() {
        let dir = tempfile::TempDir::new().unwrap();
        let written = write_pages(dir.path()).unwrap();
        for name in ["ftpy.1", "ftpy-install.1", "ftpy-cache.1", "ftpy-cache-prune.1", "ftpy-ci-github.1"] {
            assert!(written.iter().any(|w| w == name), "{name}: {written:?}");
        }
        // Every `ftpy-x(1)` any page refers to exists.
        let mut checked = 0;
        for name in &written {
            let page = fs::read_to_string(dir.path().join(name)).unwrap();
            for line in page.lines().filter(|l| l.starts_with("ftpy") && l.ends_with("(1)")) {
                let file = format!("{}.1", line.trim_end_matches("(1)").replace("\\-", "-"));
                assert!(written.contains(&file), "{name} refers to {line}, not written");
                checked += 1;
            }
        }
        assert!(checked >= 15, "the references were found: {checked}");
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
