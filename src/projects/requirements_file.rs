//! Requirements files as pip reads them: one PEP 508 requirement per line, `#` comments, `\`
//! continuations, nested `-r`/`-c` files, and the index options pip honours inside them.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::output::terminal_text::escape_control;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequirementLines {
    /// PEP 508 requirement strings, with where each came from (`file:line`).
    pub requirements: Vec<(String, String)>,
    /// Lines that are not requirements from an index: `-e`, paths, URLs; pip builds those.
    pub direct: Vec<(String, String)>,
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    /// A `--no-index` line: pip would look only in `--find-links` locations.
    pub no_index: bool,
    /// A `--pre` line: pre-releases are allowed.
    pub pre: bool,
    /// `--find-links` / `-f` locations, which pip also looks in.
    pub find_links: Vec<String>,
}

/// How far `-r` files may go: nested this deep, this many files, this much text. Each is far
/// beyond any real project's, and together they make a file tree that branches many ways (or
/// loops, or names a device) end at once with a clear error.
const MAX_DEPTH: usize = 16;
const MAX_FILES: usize = 256;
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
const MAX_LINES: usize = 200_000;

/// What the `-r` files read so far add up to, across every file given on the command line: a
/// file is read once (a second `-r` of it adds nothing pip would not already have), so cycles
/// end and a tree that names the same files many times is read in one pass.
#[derive(Debug, Default)]
pub struct ReadBudget {
    seen: HashSet<PathBuf>,
    bytes: u64,
    lines: usize,
}

impl RequirementLines {
    #[cfg(test)]
    pub fn read(path: &Path) -> Result<RequirementLines, Error> {
        RequirementLines::read_with(path, &mut ReadBudget::default())
    }

    /// Read `path` and what it includes, skipping the files `budget` has seen already.
    pub fn read_with(path: &Path, budget: &mut ReadBudget) -> Result<RequirementLines, Error> {
        let mut lines = RequirementLines::default();
        lines.read_into(path, &mut Vec::new(), budget)?;
        Ok(lines)
    }

    /// `chain` holds the files that included this one, outermost first.
    fn read_into(
        &mut self,
        path: &Path,
        chain: &mut Vec<PathBuf>,
        budget: &mut ReadBudget,
    ) -> Result<(), Error> {
        if chain.len() >= MAX_DEPTH {
            return Err(refusal(path, chain, format!("-r files nested more than {MAX_DEPTH} deep")));
        }
        let cannot_read = |source| Error::Io {
            context: format!("cannot read requirements file {}", escape_control(&path.display().to_string())),
            source,
        };
        let identity = fs::canonicalize(path).map_err(cannot_read)?;
        if budget.seen.contains(&identity) {
            return Ok(());
        }
        if budget.seen.len() >= MAX_FILES {
            return Err(refusal(path, chain, format!("more than {MAX_FILES} requirements files through -r")));
        }
        budget.seen.insert(identity);
        let text = read_text(path).map_err(|e| match e {
            ReadFailure::Io(source) => cannot_read(source),
            ReadFailure::NotRegular => {
                refusal(path, chain, "not a regular file (a device, FIFO or directory)".into())
            }
            ReadFailure::TooLarge => {
                refusal(path, chain, format!("larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024)))
            }
            ReadFailure::NotText => refusal(path, chain, "not UTF-8 text".into()),
        })?;
        budget.bytes += text.len() as u64;
        if budget.bytes > MAX_TOTAL_BYTES {
            let problem = format!("the -r files add up to more than {} MiB", MAX_TOTAL_BYTES / (1024 * 1024));
            return Err(refusal(path, chain, problem));
        }
        if budget.lines + text.lines().count() > MAX_LINES {
            let problem = format!("the -r files add up to more than {MAX_LINES} lines");
            return Err(refusal(path, chain, problem));
        }
        budget.lines += text.lines().count();
        chain.push(path.to_path_buf());
        let result = self.read_lines(&text, path, chain, budget);
        chain.pop();
        result
    }

    fn read_lines(
        &mut self,
        text: &str,
        path: &Path,
        chain: &mut Vec<PathBuf>,
        budget: &mut ReadBudget,
    ) -> Result<(), Error> {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut logical = String::new();
        let mut start_line = 0;
        for (number, raw) in text.lines().enumerate() {
            if logical.is_empty() {
                start_line = number + 1;
            }
            // A comment starts at a `#` at the beginning of the line or after whitespace.
            let comment = raw
                .char_indices()
                .find(|&(i, c)| c == '#' && (i == 0 || raw[..i].ends_with(char::is_whitespace)))
                .map(|(i, _)| i);
            let line = &raw[..comment.unwrap_or(raw.len())];
            if let Some(continued) = line.strip_suffix('\\') {
                logical.push_str(continued);
                continue;
            }
            logical.push_str(line);
            let entry = expand_variables(&std::mem::take(&mut logical));
            self.line(entry.trim(), &dir, &format!("{}:{start_line}", path.display()), chain, budget)?;
        }
        // A continuation on the last line still ends the requirement, as pip reads it.
        if !logical.trim().is_empty() {
            let entry = expand_variables(&logical);
            self.line(entry.trim(), &dir, &format!("{}:{start_line}", path.display()), chain, budget)?;
        }
        Ok(())
    }

    fn line(
        &mut self,
        line: &str,
        dir: &Path,
        origin: &str,
        chain: &mut Vec<PathBuf>,
        budget: &mut ReadBudget,
    ) -> Result<(), Error> {
        if line.is_empty() {
            return Ok(());
        }
        // `-r file`, `-rfile`, `--requirement file`, `--requirement=file`.
        let option = |names: &[&str]| -> Option<String> {
            for name in names {
                let Some(rest) = line.strip_prefix(name) else { continue };
                let long = name.starts_with("--");
                if let Some(value) = rest.strip_prefix('=') {
                    return Some(value.trim().to_string());
                }
                if rest.is_empty() || rest.starts_with(char::is_whitespace) || !long {
                    return Some(rest.trim().to_string());
                }
            }
            None
        };
        if let Some(file) = option(&["-r", "--requirement"]) {
            let nested: PathBuf = dir.join(file);
            return self.read_into(&nested, chain, budget);
        }
        if option(&["-c", "--constraint"]).is_some() {
            return Ok(()); // constraints narrow versions; ftpy reports what the requirements give
        }
        if let Some(url) = option(&["-i", "--index-url"]) {
            self.index_url = Some(url);
            return Ok(());
        }
        if let Some(url) = option(&["--extra-index-url"]) {
            self.extra_index_urls.push(url);
            return Ok(());
        }
        if let Some(target) = option(&["-e", "--editable"]) {
            self.direct.push((target, origin.to_string()));
            return Ok(());
        }
        if line == "--no-index" {
            self.no_index = true;
            return Ok(());
        }
        if line == "--pre" {
            self.pre = true;
            return Ok(());
        }
        if let Some(location) = option(&["-f", "--find-links"]) {
            self.find_links.push(location);
            return Ok(());
        }
        if line.starts_with('-') {
            return Ok(()); // other pip options (--hash, --pre, --find-links, ...)
        }
        if is_direct_reference(line) {
            self.direct.push((line.to_string(), origin.to_string()));
            return Ok(());
        }
        // `--hash` options may follow a requirement on the same line.
        let requirement = line.split(" --").next().unwrap_or(line).trim();
        self.requirements.push((requirement.to_string(), origin.to_string()));
        Ok(())
    }
}

/// `${NAME}` (upper case, digits, `_`) replaced by the environment variable, as pip does, so
/// that a token can stay out of the file; unset variables are left as written.
fn expand_variables(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}');
        let name = end.map(|e| &after[..e]);
        match name.filter(|n| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        }) {
            Some(name) => {
                match std::env::var(name) {
                    Ok(value) => out.push_str(&value),
                    Err(_) => out.push_str(&rest[start..start + 3 + name.len()]),
                }
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A bad-input error about `path`, naming the `-r` chain that led to it.
fn refusal(path: &Path, chain: &[PathBuf], problem: String) -> Error {
    let shown = |p: &Path| escape_control(&p.display().to_string()).into_owned();
    let mut message = format!("requirements file {}: {problem}", shown(path));
    if !chain.is_empty() {
        let names: Vec<String> = chain.iter().map(|p| shown(p)).chain([shown(path)]).collect();
        message.push_str(&format!(" (reached through -r {})", names.join(" -> ")));
    }
    Error::Usage {
        message,
        hints: vec!["fix the -r lines: pip reads the same files, and would fail or hang on them too".into()],
    }
}

enum ReadFailure {
    Io(std::io::Error),
    NotRegular,
    TooLarge,
    NotText,
}

/// The text of a requirements file of at most [`MAX_FILE_BYTES`]. Anything but a regular file
/// is refused before it is opened (opening a FIFO blocks), and again on the open handle (which
/// does not block), in case the path changed in between.
fn read_text(path: &Path) -> Result<String, ReadFailure> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    if !fs::metadata(path).map_err(ReadFailure::Io)?.is_file() {
        return Err(ReadFailure::NotRegular);
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(ReadFailure::Io)?;
    if !file.metadata().map_err(ReadFailure::Io)?.is_file() {
        return Err(ReadFailure::NotRegular);
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(ReadFailure::Io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadFailure::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| ReadFailure::NotText)
}

/// Every `-r` file must be a readable regular file: a usage error otherwise, before anything
/// is done.
pub fn check_files(files: &[PathBuf]) -> Result<(), Error> {
    for file in files {
        let problem = match fs::metadata(file) {
            Ok(m) if m.is_file() => continue,
            Ok(_) => "is not a regular file (a device, FIFO or directory)",
            Err(_) => "does not exist",
        };
        return Err(Error::Usage {
            message: format!("requirements file {} {problem}", escape_control(&file.display().to_string())),
            hints: vec!["-r takes a requirements file, as for pip install -r".into()],
        });
    }
    Ok(())
}

/// A path or URL rather than a name (pip builds it; there is nothing to look up): `./pkg`,
/// `dist/x.whl`, `git+https://host/r@v1#egg=x`. `name @ url` is PEP 508 and not one of these.
fn is_direct_reference(line: &str) -> bool {
    let spec = line.split(';').next().unwrap_or(line).trim();
    let name_end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(spec.len());
    let after_name = spec[name_end..].trim_start();
    let after_extras = match after_name.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map(|(_, r)| r.trim_start()).unwrap_or(""),
        None => after_name,
    };
    if name_end > 0 && after_extras.starts_with('@') {
        return false;
    }
    spec.contains('/')
        || spec.contains('\\')
        || [".whl", ".tar.gz", ".zip", ".tgz"].iter().any(|s| spec.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_message(result: Result<RequirementLines, Error>) -> String {
        match result {
            Err(Error::Usage { message, .. }) => message,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn each_file_is_read_once_so_cycles_and_repeats_end() {
        let dir = tempfile::TempDir::new().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("a.txt"), "alpha\n-r b.txt\n").unwrap();
        fs::write(d.join("b.txt"), "beta\n-r a.txt\n-r ./sub/../a.txt\n-r b.txt\n").unwrap();
        let lines = RequirementLines::read(&d.join("a.txt")).unwrap();
        let names: Vec<&str> = lines.requirements.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(names, vec!["alpha", "beta"]);
        // Two top-level files share one budget: the second mention of a file adds nothing.
        let mut budget = ReadBudget::default();
        assert_eq!(RequirementLines::read_with(&d.join("b.txt"), &mut budget).unwrap().requirements.len(), 2);
        assert!(RequirementLines::read_with(&d.join("a.txt"), &mut budget).unwrap().requirements.is_empty());
    }

    #[test]
    fn depth_file_count_and_size_are_bounded_with_the_chain_named() {
        let dir = tempfile::TempDir::new().unwrap();
        let d = dir.path();
        // 20 files, each including the next: too deep.
        for i in 0..20 {
            fs::write(d.join(format!("deep{i}.txt")), format!("-r deep{}.txt\n", i + 1)).unwrap();
        }
        fs::write(d.join("deep20.txt"), "x\n").unwrap();
        let message = usage_message(RequirementLines::read(&d.join("deep0.txt")));
        assert!(message.contains("nested more than 16 deep"), "{message}");
        assert!(message.contains("deep0.txt -> deep1.txt") || message.contains("deep0.txt ->"), "{message}");
        assert!(message.contains("deep16.txt"), "{message}");

        // 30 distinct files, each naming 30 distinct files: 930 files, more than allowed.
        let mut top = String::new();
        for i in 0..30 {
            top.push_str(&format!("-r w{i}.txt\n"));
            let inner: String = (0..30).map(|j| format!("-r w{i}_{j}.txt\n")).collect();
            fs::write(d.join(format!("w{i}.txt")), inner).unwrap();
            for j in 0..30 {
                fs::write(d.join(format!("w{i}_{j}.txt")), "pkg\n").unwrap();
            }
        }
        fs::write(d.join("wide.txt"), top).unwrap();
        let message = usage_message(RequirementLines::read(&d.join("wide.txt")));
        assert!(message.contains("more than 256 requirements files"), "{message}");
        assert!(message.contains("reached through -r"), "{message}");

        // One file over the size cap (sparse: no 16 MiB written).
        let big = fs::File::create(d.join("big.txt")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        fs::write(d.join("has-big.txt"), "ok\n-r big.txt\n").unwrap();
        let message = usage_message(RequirementLines::read(&d.join("has-big.txt")));
        assert!(message.contains("big.txt: larger than 16 MiB"), "{message}");
        assert!(message.contains("has-big.txt -> "), "{message}");
    }

    #[test]
    fn devices_fifos_and_directories_are_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        let d = dir.path();
        let fifo = d.join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        fs::create_dir(d.join("adir")).unwrap();
        for target in ["/dev/zero", fifo.to_str().unwrap(), "adir"] {
            fs::write(d.join("req.txt"), format!("-r {target}\n")).unwrap();
            let message = usage_message(RequirementLines::read(&d.join("req.txt")));
            assert!(message.contains("not a regular file"), "{target}: {message}");
            assert!(check_files(&[d.join(target)]).is_err(), "{target}");
        }
        assert!(check_files(&[d.join("req.txt")]).is_ok());
    }

    #[test]
    fn reads_pip_requirements_files() {
        let dir = tempfile::TempDir::new().unwrap();
        fs::write(dir.path().join("base.txt"), "attrs>=23  # pinned below\n").unwrap();
        fs::write(
            dir.path().join("req.txt"),
            "# top\n-r base.txt\n--index-url http://mirror/simple\nnumpy>=2; \\\n  python_version >= \"3.13\"\n\
             -e ./local\n./vendor/pkg.tar.gz\nrequests==2.32.3 --hash=sha256:abc\n-c constraints.txt\n\
             demo @ https://host/demo-1.0.tar.gz\ngit+https://host/r.git@v1#egg=r\ndist/x-1.0-py3-none-any.whl\n\
             -rbase.txt\npytest\t# tab comment\n--pre\n-f ./wheels\nlast \\\n",
        )
        .unwrap();
        let lines = RequirementLines::read(&dir.path().join("req.txt")).unwrap();
        let names: Vec<&str> = lines.requirements.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "attrs>=23",
                "numpy>=2;   python_version >= \"3.13\"",
                "requests==2.32.3",
                "demo @ https://host/demo-1.0.tar.gz",
                // The second `-rbase.txt` adds nothing: each file is read once.
                "pytest",
                "last"
            ]
        );
        assert!(lines.requirements[1].1.ends_with("req.txt:4"));
        assert_eq!(lines.index_url.as_deref(), Some("http://mirror/simple"));
        assert_eq!(lines.direct.len(), 4, "{:?}", lines.direct);
        assert!(!lines.no_index);
        assert!(lines.pre);
        assert_eq!(lines.find_links, vec!["./wheels"]);
        assert!(RequirementLines::read(&dir.path().join("missing.txt")).is_err());
        // SAFETY: set in a test before any thread of it reads the environment.
        unsafe { std::env::set_var("FTPY_TEST_TOKEN_X", "s3cret") };
        assert_eq!(
            expand_variables("-i https://${FTPY_TEST_TOKEN_X}@h/${NOPE_UNSET_Q} ${lower} $"),
            "-i https://s3cret@h/${NOPE_UNSET_Q} ${lower} $"
        );
    }
}
