//! Requirements files as pip reads them: one PEP 508 requirement per line, `#` comments, `\`
//! continuations, nested `-r`/`-c` files, and the index options pip honours inside them.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Error;

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

impl RequirementLines {
    pub fn read(path: &Path) -> Result<RequirementLines, Error> {
        let mut lines = RequirementLines::default();
        lines.read_into(path, 0)?;
        Ok(lines)
    }

    fn read_into(&mut self, path: &Path, depth: usize) -> Result<(), Error> {
        if depth > 10 {
            return Err(Error::Usage {
                message: format!("{}: -r nested too deeply", path.display()),
                hints: vec![],
            });
        }
        let text = fs::read_to_string(path).map_err(|source| Error::Io {
            context: format!("cannot read requirements file {}", path.display()),
            source,
        })?;
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
            self.line(entry.trim(), &dir, &format!("{}:{start_line}", path.display()), depth)?;
        }
        // A continuation on the last line still ends the requirement, as pip reads it.
        if !logical.trim().is_empty() {
            let entry = expand_variables(&logical);
            self.line(entry.trim(), &dir, &format!("{}:{start_line}", path.display()), depth)?;
        }
        Ok(())
    }

    fn line(&mut self, line: &str, dir: &Path, origin: &str, depth: usize) -> Result<(), Error> {
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
            return self.read_into(&nested, depth + 1);
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

/// Every `-r` file must be a readable file: a usage error otherwise, before anything is done.
pub fn check_files(files: &[PathBuf]) -> Result<(), Error> {
    for file in files {
        let problem = match fs::metadata(file) {
            Ok(m) if m.is_file() => continue,
            Ok(_) => "is not a file",
            Err(_) => "does not exist",
        };
        return Err(Error::Usage {
            message: format!("requirements file {} {problem}", file.display()),
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
                "attrs>=23",
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
