//! A real OCI registry for the tests: the CNCF Distribution registry (`docker-registry serve
//! config.yml`, Debian's package `docker-registry`), started on 127.0.0.1 on a free port with a
//! temporary storage directory, and killed when dropped.
//!
//! Authentication is htpasswd basic auth ([`Registry::start_with_password`]): the registry
//! answers 401 with `WWW-Authenticate: Basic realm=...`, over plain HTTP (Distribution 2.8 does
//! not insist on TLS for htpasswd). Its token flow (`auth: token:`) would need a second server
//! issuing signed JWTs; the Bearer exchange is tested against a fake registry and token service
//! instead (`tests/remote_cache.rs`).

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The registry binary: `FTPY_TEST_DOCKER_REGISTRY` (if it names no file, none), else
/// `docker-registry` on PATH, else Debian's `/usr/bin/docker-registry`.
pub fn registry_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FTPY_TEST_DOCKER_REGISTRY").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    which::which("docker-registry").ok().or_else(|| {
        let debian = PathBuf::from("/usr/bin/docker-registry");
        debian.is_file().then_some(debian)
    })
}

pub struct Registry {
    /// config.yml, htpasswd, the log, and `storage/`.
    pub dir: TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Registry {
    /// An anonymous registry; None when the binary is missing outside CI (said by `require`).
    pub fn start() -> Option<Registry> {
        Registry::launch(None)
    }

    /// A registry that takes only `user` with `password` (htpasswd, bcrypt), for reads and
    /// writes alike.
    pub fn start_with_password(user: &str, password: &str) -> Option<Registry> {
        Registry::launch(Some((user, password)))
    }

    fn launch(auth: Option<(&str, &str)>) -> Option<Registry> {
        let binary = registry_binary();
        if !super::require(
            binary.is_some(),
            "the CNCF Distribution registry (docker-registry)",
            "apt-get install docker-registry, or set FTPY_TEST_DOCKER_REGISTRY to the binary",
        ) {
            return None;
        }
        let binary = binary.unwrap();
        let mut dir = TempDir::new().unwrap();
        if let Some((user, password)) = auth {
            // The lowest cost bcrypt allows: these are test passwords, and every request hashes.
            let hash = bcrypt::hash(password, 4).unwrap();
            fs::write(dir.path().join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
        }
        // A port found free may be taken before the registry binds it: try again then.
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            write_config(dir.path(), port, auth.is_some());
            let log = fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = Command::new(&binary)
                .arg("serve")
                .arg(dir.path().join("config.yml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut registry = Registry { dir, port, child: Some(child) };
            if registry.wait_ready(Duration::from_secs(30)) {
                return Some(registry);
            }
            registry.stop();
            last_log = fs::read_to_string(registry.dir.path().join("registry.log")).unwrap_or_default();
            dir = std::mem::replace(&mut registry.dir, TempDir::new().unwrap());
        }
        panic!("the registry did not answer GET /v2/; its log:\n{last_log}");
    }

    /// Wait until `GET /v2/` answers (200, or 401 when it wants credentials); false if the
    /// process ended or `limit` passed first.
    fn wait_ready(&mut self, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                return false;
            }
            if matches!(http_status(self.port, "/v2/"), Some(200 | 401)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `127.0.0.1:PORT`, as Docker's config.json names the registry.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`, for requests the test makes itself.
    pub fn base(&self) -> String {
        format!("http://{}", self.host())
    }

    /// The remote cache URL of `repository` in this registry.
    pub fn url(&self, repository: &str) -> String {
        format!("oci+http://{}/{repository}", self.host())
    }

    /// Where the registry keeps the bytes of the blob `sha256:<hex>`.
    pub fn blob_data(&self, hex: &str) -> PathBuf {
        self.dir.path().join("storage/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }

    /// Kill the registry (its port closes); the storage stays until the drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What the registry logged (warnings and errors).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_config(dir: &Path, port: u16, htpasswd: bool) {
    let auth = if htpasswd {
        format!(
            "auth:\n  htpasswd:\n    realm: ftpy-test\n    path: \"{}\"\n",
            dir.join("htpasswd").display()
        )
    } else {
        String::new()
    };
    let config = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: \"{}\"\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: ftpy-test-not-a-secret\n\
         {auth}",
        dir.join("storage").display()
    );
    fs::write(dir.join("config.yml"), config).unwrap();
}

/// A port nothing listens on now (the listener that found it is closed again).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The status of `GET path` on 127.0.0.1:`port`, if anything answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
