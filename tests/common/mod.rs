//! Shared test fixtures: a local HTTP mirror, a generated CPython-like source tarball whose
//! configure and Makefile record their arguments and install a stub interpreter, and a
//! temporary ftpy home.

#![allow(dead_code)]

pub mod index;
pub mod registry;

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use assert_cmd::Command;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// How the server answers one path.
#[derive(Clone)]
pub enum Route {
    /// 200 with the body; honours `Range: bytes=N-` with 206.
    Serve(Vec<u8>),
    /// Like `Serve`, but never honours Range (always 200 with the whole body).
    ServeNoRange(Vec<u8>),
    /// The first request gets full headers and only `after` bytes before the connection is
    /// closed; later requests are served normally (with Range support).
    CutOnce { body: Vec<u8>, after: usize },
    /// 200 with the body and this Content-Type.
    Typed { body: Vec<u8>, content_type: String },
    /// 200 with `len` zero bytes, announcing `content_length` (none: the body ends when the
    /// connection closes), for a server that sends more than anyone should take.
    Zeros { len: u64, content_length: Option<u64> },
    /// 200 with the body (and its length) sent one byte every `every`: a stalling server.
    Trickle { body: Vec<u8>, every: Duration },
    /// `route` for a request whose `Authorization` is exactly `authorization`; anything else
    /// gets 401 with `WWW-Authenticate: <challenge>`.
    Guarded { authorization: String, challenge: String, route: Box<Route> },
    /// These bytes as the whole answer, status line and headers included (a redirect, an
    /// error with a body).
    Raw(Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

pub struct TestServer {
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl TestServer {
    pub fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, h) = (r.clone(), h.clone());
                thread::spawn(move || handle(stream, &r, &h));
            }
        });
        TestServer { base, routes, hits }
    }

    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits.lock().unwrap().iter().filter(|h| h.path == path).cloned().collect()
    }

    pub fn all_hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

fn handle(mut stream: TcpStream, routes: &Mutex<HashMap<String, Route>>, hits: &Mutex<Vec<Hit>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (mut range, mut authorization) = (None, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            } else if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let first_hit = {
        let mut hits = hits.lock().unwrap();
        let first = !hits.iter().any(|h| h.path == path);
        hits.push(Hit { path: path.clone(), range: range.clone(), authorization: authorization.clone() });
        first
    };
    let mut route = routes.lock().unwrap().get(&path).cloned();
    if let Some(Route::Guarded { authorization: wanted, challenge, route: inner }) = route {
        if authorization.as_deref() != Some(wanted.as_str()) {
            let body = "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}";
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            return;
        }
        route = Some(*inner);
    }
    let mut content_type = String::new();
    let (body, honour_range, cut) = match route {
        None => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
            );
            return;
        }
        Some(Route::Serve(body)) => (body, true, None),
        Some(Route::ServeNoRange(body)) => (body, false, None),
        Some(Route::CutOnce { body, after }) => (body, true, first_hit.then_some(after)),
        Some(Route::Typed { body, content_type: kind }) => {
            content_type = format!("Content-Type: {kind}\r\n");
            (body, false, None)
        }
        Some(Route::Zeros { len, content_length }) => {
            let length = content_length.map(|l| format!("Content-Length: {l}\r\n")).unwrap_or_default();
            let _ =
                stream.write_all(format!("HTTP/1.1 200 OK\r\n{length}Connection: close\r\n\r\n").as_bytes());
            let chunk = vec![0u8; 64 * 1024];
            let mut sent = 0u64;
            while sent < len {
                let n = chunk.len().min((len - sent) as usize);
                if stream.write_all(&chunk[..n]).is_err() {
                    return;
                }
                sent += n as u64;
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
        Some(Route::Guarded { .. }) => unreachable!("unwrapped above"),
        Some(Route::Raw(bytes)) => {
            let _ = stream.write_all(&bytes);
            let _ = stream.flush();
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
        Some(Route::Trickle { body, every }) => {
            let header =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(header.as_bytes());
            for byte in body {
                thread::sleep(every);
                if stream.write_all(&[byte]).is_err() {
                    return;
                }
            }
            return;
        }
    };
    let start = range
        .as_deref()
        .filter(|_| honour_range)
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
    let (status, slice) = match start {
        Some(start) if start < body.len() => ("206 Partial Content", &body[start..]),
        Some(_) => {
            let _ = stream.write_all(
                b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        }
        None => ("200 OK", &body[..]),
    };
    let range_header = match start {
        Some(start) => format!("Content-Range: bytes {start}-{}/{}\r\n", body.len() - 1, body.len()),
        None => String::new(),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{range_header}{content_type}Connection: close\r\n\r\n",
        slice.len()
    );
    let _ = stream.write_all(header.as_bytes());
    let _ = match cut {
        Some(after) => stream.write_all(&slice[..after.min(slice.len())]),
        None => stream.write_all(slice),
    };
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One entry of a hand-made tar archive. Headers are written byte by byte so that the unsafe
/// entries the tar crate would refuse to create can be made too.
pub enum TarEntry<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

pub fn tar_xz(entries: &[TarEntry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_old();
        let (name, data, mode, kind, link): (&str, &[u8], u32, tar::EntryType, &str) = match entry {
            TarEntry::File(name, data, mode) => (name, data, *mode, tar::EntryType::Regular, ""),
            TarEntry::Dir(name) => (name, b"", 0o755, tar::EntryType::Directory, ""),
            TarEntry::Symlink(name, target) => (name, b"", 0o777, tar::EntryType::Symlink, target),
            TarEntry::HardLink(name, target) => (name, b"", 0o644, tar::EntryType::Link, target),
        };
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_entry_type(kind);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut encoder = xz2::write::XzEncoder::new(Vec::new(), 1);
    encoder.write_all(&tar).unwrap();
    encoder.finish().unwrap()
}

const CONFIGURE: &str = r#"#!/bin/sh
# Fake CPython configure: records its argv, then writes config.mk for the fake Makefile.
set -e
srcdir=$(cd "$(dirname "$0")" && pwd)
record=$(mktemp "$FTPY_TEST_RECORD/configure.XXXXXX")
for arg in "$@"; do printf '%s\n' "$arg"; done > "$record"
printf 'CC=%s\n' "${CC:-}" > "$(mktemp "$FTPY_TEST_RECORD/cc.XXXXXX")"
# The LLVM tools configure would find on PATH (a max build's), when there are any.
if command -v llvm-bolt >/dev/null 2>&1; then
  printf 'llvm-bolt=%s\n' "$(command -v llvm-bolt)" > "$(mktemp "$FTPY_TEST_RECORD/tools.XXXXXX")"
fi
if [ -n "$FAKE_FAIL_CONFIGURE" ]; then
  echo "checking for gcc... no"
  echo "configure: error: no acceptable C compiler found in \$PATH" >&2
  exit 1
fi
prefix=/usr/local suffix= ft=false gil=true
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix=${arg#--prefix=} ;;
    --disable-gil) suffix=t ft=true gil=false ;;
  esac
done
cat > config.mk <<EOF
SRCDIR=$srcdir
PREFIX=$prefix
SUFFIX=$suffix
FT=$ft
GIL=$gil
EOF
cp "$srcdir/Makefile.fake" Makefile
echo "configure: creating Makefile"
"#;

/// The fake Makefile. `install` writes, besides the stub interpreter and pip, files that name the
/// prefix as a real build's do, so that relocation has something to rewrite: a pkg-config file,
/// a `python3.X-config` script, and a "library" holding the prefix as NUL-terminated strings
/// (which relocation must rewrite in place, padded to the same length).
const MAKEFILE: &str = "include config.mk\n\
all:\n\
\t@echo \"gcc -c Python/ceval.c (MAKEFLAGS=$(MAKEFLAGS))\"\n\
\t@echo \"$(MAKEFLAGS)\" > \"$$(mktemp \"$$FTPY_TEST_RECORD/make.XXXXXX\")\"\n\
\t@if [ -n \"$$FAKE_MAKE_NOISE\" ]; then printf '\\033]0;PWNED\\007\\033[2J%0900d\\n' 0; fi\n\
\t@if [ -n \"$$FAKE_FAIL_MAKE\" ] || [ \"$$FAKE_FAIL_VARIANT\" = \"ft$(FT)\" ]; then echo \"../Modules/zlibmodule.c:10:10: fatal error: zlib.h: No such file or directory\"; exit 2; fi\n\
\t@grep SigIgn /proc/self/status > \"$$(mktemp \"$$FTPY_TEST_RECORD/sigign.XXXXXX\")\"\n\
\t@start=$$(date +%s.%N); sleep $${FAKE_MAKE_SLEEP:-0}; echo \"$$start $$(date +%s.%N)\" > \"$$(mktemp \"$$FTPY_TEST_RECORD/times.XXXXXX\")\"\n\
\t@echo \"PROFILE_TASK=$(PROFILE_TASK) LDFLAGS_NODIST=$(LDFLAGS_NODIST)\" > \"$$(mktemp \"$$FTPY_TEST_RECORD/stage-final.XXXXXX\")\"\n\
\t@echo \"gcc -o python Programs/python.o libpython.a\"\n\
profile-gen-stamp:\n\
\t@echo \"CFLAGS_NODIST=$(CFLAGS_NODIST) LDFLAGS_NODIST=$(LDFLAGS_NODIST)\" > \"$$(mktemp \"$$FTPY_TEST_RECORD/stage-gen.XXXXXX\")\"\n\
\t@echo \"Building with support for profile generation:\"\n\
\t@touch $@\n\
profile-run-stamp:\n\
\t@echo \"PROFILE_TASK=$(PROFILE_TASK)\" > \"$$(mktemp \"$$FTPY_TEST_RECORD/stage-run.XXXXXX\")\"\n\
\t@echo \"Running code to generate profile data (this can take a while):\"\n\
\t@if [ -n \"$$FAKE_PGO_FAILURES\" ]; then n=$$(ls profile-failed.* 2>/dev/null | wc -l); if [ $$n -lt $$FAKE_PGO_FAILURES ]; then touch profile-failed.$$n; echo \"test test_generators failed\"; exit 2; fi; fi\n\
\t@touch $@\n\
install:\n\
\tmkdir -p \"$(DESTDIR)$(PREFIX)/bin\" \"$(DESTDIR)$(PREFIX)/lib/pkgconfig\"\n\
\tprintf 'prefix=%s\\nlibdir=$${prefix}/lib\\nincludedir=$${prefix}/include/python@SERIES@$(SUFFIX)\\nName: Python\\nCflags: -I$${includedir}\\n' \"$(PREFIX)\" > \"$(DESTDIR)$(PREFIX)/lib/pkgconfig/python3.pc\"\n\
\tprintf '#!/bin/sh\\necho \"-I%s/include/python@SERIES@$(SUFFIX) -L%s/lib\"\\n' \"$(PREFIX)\" \"$(PREFIX)\" > \"$(DESTDIR)$(PREFIX)/bin/python@SERIES@$(SUFFIX)-config\"\n\
\tchmod +x \"$(DESTDIR)$(PREFIX)/bin/python@SERIES@$(SUFFIX)-config\"\n\
\tprintf '\\177ELF\\000%s/lib\\000getpath\\000%s\\000' \"$(PREFIX)\" \"$(PREFIX)\" > \"$(DESTDIR)$(PREFIX)/lib/libpython@SERIES@$(SUFFIX).so\"\n\
\tsed -e 's/@FT@/$(FT)/' -e 's/@GIL@/$(GIL)/' \"$(SRCDIR)/python.in\" > \"$(DESTDIR)$(PREFIX)/bin/python@SERIES@$(SUFFIX)\"\n\
\tchmod +x \"$(DESTDIR)$(PREFIX)/bin/python@SERIES@$(SUFFIX)\"\n\
\tprintf '#!/bin/sh\\necho pip\\n' > \"$(DESTDIR)$(PREFIX)/bin/pip@SERIES@\"\n\
\tchmod +x \"$(DESTDIR)$(PREFIX)/bin/pip@SERIES@\"\n\
\techo \"DESTDIR=$(DESTDIR)\" > \"$$(mktemp \"$$FTPY_TEST_RECORD/install.XXXXXX\")\"\n";

/// The stub interpreter answers ftpy's probe the way a real one would, steered by FAKE_* vars.
/// It and the environments' pythons it makes write a `python-env.*` record (their arguments,
/// then the variables) when one of the variables ftpy removes for its own Pythons reaches them
/// (PYTHONHOME, PYTHONPATH, PYTHON_GIL, PYTHONPLATLIBDIR, PYTHONUSERBASE, PYTHONINSPECT, ...).
const PYTHON_IN: &str = r#"#!/bin/sh
# A TSan build's runs get TSAN_OPTIONS from ftpy: recorded as `tsan-options.*` (argument, options).
if [ -n "$TSAN_OPTIONS" ]; then
  printf '%s\n' "$*" "$TSAN_OPTIONS" > "$(mktemp "$FTPY_TEST_RECORD/tsan-options.XXXXXX")"
fi
hostile=$(env | grep -E '^(PYTHONHOME|PYTHONPATH|PYTHON_GIL|PYTHONPLATLIBDIR|PYTHONUSERBASE|PYTHON_PRESITE|PYTHONINSPECT|PYTHONSTARTUP|PYTHONEXECUTABLE)=')
if [ -n "$hostile" ]; then
  printf '%s\n' "$0 $*" "$hostile" > "$(mktemp "$FTPY_TEST_RECORD/python-env.XXXXXX")"
fi
# FAKE_PROBE_PAUSE=<file>: say so in <file>, then hang as a check that never ends would.
if [ -n "$FAKE_PROBE_PAUSE" ]; then echo probing > "$FAKE_PROBE_PAUSE"; exec sleep 300; fi
# `-m venv DIR`: an environment whose python answers ftpy's environment probe (and lists no
# extension modules), made from this installation.
if [ "$1" = "-m" ] && [ "$2" = venv ]; then
  base=$(cd "$(dirname "$0")/.." && pwd)
  mkdir -p "$3/bin"
  printf 'home = %s/bin\n' "$base" > "$3/pyvenv.cfg"
  cat > "$3/bin/python" <<EOF
#!/bin/sh
hostile=\$(env | grep -E '^(PYTHONHOME|PYTHONPATH|PYTHON_GIL|PYTHONPLATLIBDIR|PYTHONUSERBASE|PYTHON_PRESITE|PYTHONINSPECT|PYTHONSTARTUP|PYTHONEXECUTABLE)=')
if [ -n "\$hostile" ]; then
  printf '%s\\n' "\$0 \$*" "\$hostile" > "\$(mktemp "\$FTPY_TEST_RECORD/python-env.XXXXXX")"
fi
case "\$2" in
  *EXTENSION_SUFFIXES*)
    # FAKE_SCAN_PAUSE=<file>: the GIL scan says so in <file>, then takes its time.
    if [ -n "\$FAKE_SCAN_PAUSE" ]; then echo scanning > "\$FAKE_SCAN_PAUSE"; exec sleep 300; fi
    echo '[]' ;;
  *) echo '{"version": "@VERSION@", "gil_disabled": @FT@, "gil_enabled": @GIL@, "prefix": "$3", "base_prefix": "$base", "packages": {}}' ;;
esac
EOF
  chmod +x "$3/bin/python"
  exit 0
fi
# As ftpy runs it: python -I -c PROBE MODULE...; each module imports unless FAKE_MISSING_MODULE names it.
if [ "$1" = -I ] && [ "$2" = -c ]; then shift 3; fi
[ $# -gt 0 ] || set -- ssl zlib ctypes sqlite3 lzma bz2
modules=""
for m in "$@"; do
    v=null
    if [ "$FAKE_MISSING_MODULE" = "$m" ]; then v="\"ModuleNotFoundError: No module named _$m\""; fi
    modules="$modules${modules:+, }\"$m\": $v"
done
gil=@GIL@
if [ -n "$FAKE_GIL_ENABLED" ]; then gil=true; fi
pip='"25.1.1"'
if [ -n "$FAKE_NO_PIP" ]; then pip=null; fi
printf '{"version": "%s", "gil_disabled_build": @FT@, "gil_enabled": %s, "gil_enabled_after_imports": %s, "modules": {%s}, "pip": %s}\n' "@VERSION@" "$gil" "$gil" "$modules" "$pip"
"#;

/// A source tarball for `version` laid out like CPython's, with a fake build system.
pub fn fake_source(version: &str) -> Vec<u8> {
    let series: Vec<&str> = version.split('.').take(2).collect();
    let series = series.join(".");
    let top = format!("Python-{version}");
    let makefile = MAKEFILE.replace("@SERIES@", &series);
    let python = PYTHON_IN.replace("@VERSION@", version);
    tar_xz(&[
        TarEntry::Dir(&format!("{top}/")),
        TarEntry::File(&format!("{top}/configure"), CONFIGURE.as_bytes(), 0o755),
        TarEntry::File(&format!("{top}/Makefile.fake"), makefile.as_bytes(), 0o644),
        TarEntry::File(&format!("{top}/python.in"), python.as_bytes(), 0o644),
        TarEntry::File(&format!("{top}/README.rst"), b"This is a fake CPython source tree.\n", 0o644),
        TarEntry::Dir(&format!("{top}/Tools/")),
        TarEntry::Dir(&format!("{top}/Tools/tsan/")),
        TarEntry::File(
            &format!("{top}/Tools/tsan/suppressions_free_threading.txt"),
            FAKE_TSAN_SUPPRESSIONS.as_bytes(),
            0o644,
        ),
    ])
}

/// What the fake source keeps in `Tools/tsan/suppressions_free_threading.txt`.
pub const FAKE_TSAN_SUPPRESSIONS: &str = "# fake CPython TSan suppressions\nrace_top:fake_function\n";

/// A fake C compiler for `--profile tsan` at `dir/fake-clang`: `--version` names it, and what it
/// "links" is a program that reports a data race the way a working TSan runtime does.
pub fn fake_tsan_compiler(dir: &Path) -> PathBuf {
    let path = dir.join("fake-clang");
    fs::write(
        &path,
        "#!/bin/sh\n\
         case \"$1\" in --version) echo 'fake clang version 19.1.7'; exit 0 ;; -dumpmachine) echo x86_64-linux-gnu; exit 0 ;; esac\n\
         out=\n\
         while [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then out=$2; fi; shift; done\n\
         printf '#!/bin/sh\\necho \"WARNING: ThreadSanitizer: data race (pid=1)\" >&2\\nexit 66\\n' > \"$out\"\n\
         chmod +x \"$out\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A temporary ftpy home, a recipe override, a record directory and a local mirror.
pub struct Fixture {
    pub home: TempDir,
    pub recipes: TempDir,
    pub record: TempDir,
    pub server: TestServer,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            home: TempDir::new().unwrap(),
            recipes: TempDir::new().unwrap(),
            record: TempDir::new().unwrap(),
            server: TestServer::start(),
        }
    }

    /// A fixture whose mirror serves a fake source tree of `version`, with its recipe.
    pub fn with_release(version: &str) -> Fixture {
        let fx = Fixture::new();
        fx.publish(version, fake_source(version));
        fx
    }

    /// Serve `tarball` as `version` on the mirror and write a recipe that names its digest.
    pub fn publish(&self, version: &str, tarball: Vec<u8>) {
        let digest = sha256_hex(&tarball);
        self.publish_with_digest(version, tarball, &digest);
    }

    pub fn publish_with_digest(&self, version: &str, tarball: Vec<u8>, digest: &str) {
        self.server.route(&Self::mirror_path(version), Route::Serve(tarball));
        self.add_recipe(version, digest);
    }

    /// A recipe for `version` on this fixture's mirror. A release the built-in recipes publish
    /// with another digest says so with `replaces_sha256`, as ftpy requires.
    pub fn add_recipe(&self, version: &str, digest: &str) {
        let series: Vec<&str> = version.split('.').take(2).collect();
        let series = series.join(".");
        let file = self.recipes.path().join(format!("{version}.toml"));
        let replaces = match builtin_digest(version) {
            Some(published) if published != digest => format!("replaces_sha256 = \"{published}\"\n"),
            _ => String::new(),
        };
        fs::write(
            file,
            format!(
                "series = \"{series}\"\n[[release]]\nversion = \"{version}\"\nurl = \"{}{}\"\nsha256 = \"{digest}\"\n{replaces}",
                self.server.base,
                Self::mirror_path(version)
            ),
        )
        .unwrap();
    }

    pub fn mirror_path(version: &str) -> String {
        let dir: String = version.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        format!("/{dir}/Python-{version}.tar.xz")
    }

    /// `ftpy` with this fixture's home, recipes and mirror, and no FAKE_* leaking in.
    pub fn ftpy(&self) -> Command {
        let mut cmd = Command::cargo_bin("ftpy").unwrap();
        cmd.env("FTPY_HOME", self.home.path())
            .env("FTPY_RECIPES", self.recipes.path())
            .env("FTPY_MIRROR", &self.server.base)
            .env("FTPY_TEST_RECORD", self.record.path())
            .env("FTPY_RETRY_PAUSE_MS", "50")
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS")
            // No remote cache or registry credentials of the person running the tests.
            .env_remove("FTPY_REMOTE_CACHE")
            .env_remove("FTPY_REMOTE_CACHE_TOKEN")
            .env_remove("FTPY_REMOTE_CACHE_USER")
            .env_remove("GITHUB_TOKEN")
            .env("DOCKER_CONFIG", self.record.path().join("no-docker-config"));
        for var in [
            "FAKE_FAIL_CONFIGURE",
            "FAKE_FAIL_MAKE",
            "FAKE_MAKE_NOISE",
            "FAKE_PGO_FAILURES",
            "FAKE_MAKE_SLEEP",
            "FAKE_MISSING_MODULE",
            "FAKE_GIL_ENABLED",
            "FAKE_NO_PIP",
            "FAKE_PROBE_PAUSE",
            "FAKE_SCAN_PAUSE",
            "FTPY_TEST_PAUSE_AT",
            "FTPY_TEST_PAUSE_FILE",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// A plain `std` command for `program` (ftpy itself, or a shell that execs it) with the
    /// environment [`Fixture::ftpy`] sets: for tests that spawn, signal and wait themselves.
    ///
    /// It starts with SIGINT and SIGQUIT at their defaults, as a terminal starts a program. A
    /// test run that a shell script starts with `&` has them ignored, and ftpy keeps an ignored
    /// signal ignored: a test's Ctrl-C would then do nothing.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        use std::os::unix::process::CommandExt;

        let mut cmd = std::process::Command::new(program);
        for (k, v) in self.ftpy().get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        // SAFETY: signal(2) is async-signal-safe, and the closure touches nothing else.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGQUIT, libc::SIG_DFL);
                Ok(())
            });
        }
        cmd
    }

    /// Argument lists that the fake configure recorded, one Vec per run.
    pub fn configure_runs(&self) -> Vec<Vec<String>> {
        self.records("configure.")
            .into_iter()
            .map(|text| text.lines().map(str::to_string).collect())
            .collect()
    }

    pub fn records(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.record.path()).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                out.push(fs::read_to_string(entry.path()).unwrap());
            }
        }
        out
    }

    pub fn versions(&self) -> Vec<String> {
        list_dir(&self.home.path().join("versions"))
    }

    pub fn staging_leftovers(&self) -> Vec<String> {
        list_dir(&self.home.path().join("tmp"))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }
}

/// The sha256 ftpy's built-in recipes (`recipes/<series>.toml`) give `version`, if any.
pub fn builtin_digest(version: &str) -> Option<String> {
    let series: Vec<&str> = version.split('.').take(2).collect();
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes").join(format!("{}.toml", series.join(".")));
    let recipes: toml::Table = fs::read_to_string(path).ok()?.parse().ok()?;
    let releases = recipes.get("release")?.as_array()?;
    let release = releases.iter().find(|r| r.get("version").and_then(|v| v.as_str()) == Some(version))?;
    release.get("sha256")?.as_str().map(str::to_string)
}

pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Wait (polling, up to `limit`) until `file` exists with content; false if it never did.
pub fn wait_for_file(file: &Path, limit: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if fs::read(file).is_ok_and(|c| !c.is_empty()) {
            return true;
        }
        thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// SIGKILL `child` and reap it.
pub fn kill_hard(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

pub fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    v
}

/// The unmodified CPython source `Python-<version>.tar.xz` the real builds use: in
/// `FTPY_TEST_CPYTHON_DIR`, else in `../shared/cpython` beside this checkout.
pub fn cpython_tarball(version: &str) -> PathBuf {
    real_build();
    let dir = std::env::var_os("FTPY_TEST_CPYTHON_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/cpython"));
    dir.join(format!("Python-{version}.tar.xz"))
}

/// Whether this run is CI's: `CI` set to anything but empty, `0` or `false` (as GitHub Actions
/// and `.ci/run` set it, and as insta reads it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// A test that cannot find what it needs (`what`) says so: under `CI=true` it fails, naming
/// `what` and `how` to provide it; elsewhere it is skipped loudly. True when `found`; the caller
/// returns when false:
///
/// ```ignore
/// if !require(tsv.exists(), &tsv.display().to_string(), "set FTPY_TEST_RELEASES_TSV") { return; }
/// ```
pub fn require(found: bool, what: &str, how: &str) -> bool {
    if found {
        return true;
    }
    let test = thread::current().name().unwrap_or("this test").to_string();
    if in_ci() {
        panic!("{test} needs {what}, which is missing: {how} (CI=true: a test may not skip there)");
    }
    // Straight to stderr: libtest keeps what `eprintln!` prints in a test that passes.
    let _ =
        writeln!(std::io::stderr(), "SKIPPED {test}: {what} is missing ({how}); under CI=true this fails");
    false
}

/// Called by every test that builds a real CPython (or ftpy's release build): such a test's
/// name must contain `real_build`, so that `cargo test -- --skip real_build`, the quick command
/// README gives, leaves it out. A test that does not say so fails here, at once.
pub fn real_build() {
    // libtest runs each test on a thread named after it.
    if let Some(name) = thread::current().name().filter(|n| *n != "main") {
        assert!(
            name.contains("real_build"),
            "{name} builds a real CPython or ftpy's release build: its name must contain `real_build` \
             (README, Tests: the quick command skips those)"
        );
    }
}
