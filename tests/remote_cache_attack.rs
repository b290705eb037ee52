//! Remote caches under attack: a fake registry or static store (`TestServer`, `file://`) that
//! lies, stalls, redirects or streams forever; odd `--remote-cache` values; signals and kills
//! during a pull; homes whose prefixes are exactly as long as the placeholder, or longer. All
//! with the fake CPython source. No real registry is needed here (`tests/remote_cache.rs` has
//! those cases).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;

const V: &str = "3.14.6";
const REPO: &str = "ftpy/builds";
const PLACEHOLDER: &str = "/ftpy-relocatable-build-prefix-";

fn both(out: &Output) -> String {
    format!("{}{}", stdout_of(out), stderr_of(out))
}

fn ok(out: &Output) {
    assert!(out.status.success(), "exit {:?}\n{}", out.status.code(), both(out));
}

fn lines_with<'a>(text: &'a str, what: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(what)).collect()
}

/// A build of `key` made in `fx`, exported: its id, metadata (JSON) and archive.
fn exported(fx: &Fixture, key: &str) -> (String, serde_json::Value, Vec<u8>) {
    ok(&fx.ftpy().args(["install", "--profile", "fast", key]).output().unwrap());
    let out = fx.ftpy().args(["cache", "key", "--profile", "fast", key]).output().unwrap();
    let id = stdout_of(&out).trim().to_string();
    let dir = tempfile::TempDir::new().unwrap();
    ok(&fx.ftpy().args(["cache", "export"]).arg(dir.path()).output().unwrap());
    let meta =
        serde_json::from_str(&fs::read_to_string(dir.path().join(format!("{id}.json"))).unwrap()).unwrap();
    let archive = fs::read(dir.path().join(format!("{id}.tar.zst"))).unwrap();
    (id, meta, archive)
}

/// An ORAS-style manifest for an entry whose layer is `size` bytes with `digest`.
fn manifest(meta: &serde_json::Value, digest: &str, size: u64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.ftpy.build.v1",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": format!("sha256:{}", sha256_hex(b"{}")), "size": 2},
        "layers": [{"mediaType": "application/vnd.ftpy.build.tree.v1.tar+zstd", "digest": digest, "size": size}],
        "annotations": {"dev.ftpy.build.metadata": serde_json::to_string(meta).unwrap()},
    }))
    .unwrap()
}

/// A fake registry serving `id` with the layer `digest` of `size` bytes (the metadata made to
/// agree), its blob answered by `blob`. Returns the server, the `oci+http://` URL and the blob path.
fn fake_registry(
    id: &str,
    meta: &serde_json::Value,
    digest_hex: &str,
    size: u64,
    blob: Route,
) -> (TestServer, String, String) {
    let mut meta = meta.clone();
    meta["archive_sha256"] = digest_hex.into();
    meta["archive_bytes"] = size.into();
    let server = TestServer::start();
    let digest = format!("sha256:{digest_hex}");
    server.route(&format!("/v2/{REPO}/manifests/{id}"), Route::Serve(manifest(&meta, &digest, size)));
    let blob_path = format!("/v2/{REPO}/blobs/{digest}");
    server.route(&blob_path, blob);
    let url = format!("oci+http://{}/{REPO}", server.base.trim_start_matches("http://"));
    (server, url, blob_path)
}

fn install_from(fx: &Fixture, url: &str, extra_env: &[(&str, &str)], key: &str) -> Output {
    let mut cmd = fx.ftpy();
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.args(["install", "--profile", "fast", "--remote-cache", url, key]).output().unwrap()
}

/// Wait for `child` up to `limit`; kill it (and fail) if it is still running then.
fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            kill_hard(child);
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_hit(server: &TestServer, path: &str, limit: Duration) {
    let started = Instant::now();
    while server.hits(path).is_empty() {
        assert!(started.elapsed() < limit, "no request for {path}: {:?}", server.all_hits());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What partial downloads or stores the build cache holds.
fn partials(fx: &Fixture) -> Vec<String> {
    list_dir(&fx.path("cache/builds")).into_iter().filter(|n| n.contains(".partial")).collect()
}

/// Fix: a manifest could name a layer of any size, and ftpy wrote that many bytes to disk before
/// the digest could refuse them. A layer larger than FTPY_MAX_DOWNLOAD_MIB is not fetched.
#[test]
fn a_layer_larger_than_the_download_limit_is_never_fetched() {
    let a = Fixture::with_release(V);
    let (id, meta, _) = exported(&a, "3.14.6t");
    let size = 3 << 20;
    let (server, url, blob) = fake_registry(
        &id,
        &meta,
        &"ab".repeat(32),
        size,
        Route::Zeros { len: size, content_length: Some(size) },
    );
    let b = Fixture::with_release(V);
    let out = install_from(&b, &url, &[("FTPY_MAX_DOWNLOAD_MIB", "1")], "3.14.6t");
    ok(&out);
    let stderr = stderr_of(&out);
    let warnings = lines_with(&stderr, "could not restore");
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("3145728 bytes, more than the 1 MiB allowed"), "{stderr}");
    assert!(server.hits(&blob).is_empty(), "the blob was requested");
    assert_eq!(b.configure_runs().len(), 1, "built instead");
    assert!(partials(&b).is_empty(), "{:?}", partials(&b));
}

/// A layer of 0 bytes (the digest of nothing, metadata agreeing): downloaded, then refused by
/// the restore as a corrupt archive; a line and a build.
#[test]
fn an_empty_layer_is_refused_and_built_instead() {
    let a = Fixture::with_release(V);
    let (id, meta, _) = exported(&a, "3.14.6t");
    let (_server, url, _) = fake_registry(&id, &meta, &sha256_hex(b""), 0, Route::Serve(Vec::new()));
    let b = Fixture::with_release(V);
    let out = install_from(&b, &url, &[], "3.14.6t");
    ok(&out);
    assert_eq!(b.configure_runs().len(), 1, "built instead\n{}", both(&out));
    assert!(stderr_of(&out).contains("is corrupt"), "{}", both(&out));
    assert!(b.staging_leftovers().is_empty());
}

/// Fix: SIGTERM (or Ctrl-C) during a download from the remote cache was noted and ignored until
/// the archive had come whole (up to 30 minutes). It stops the download: exit 130, nothing
/// built, no partial file.
#[test]
fn a_signal_stops_a_download_from_the_remote_cache() {
    let a = Fixture::with_release(V);
    let (id, meta, archive) = exported(&a, "3.14.6t");
    let every = Duration::from_millis(25);
    let (server, url, blob) = fake_registry(
        &id,
        &meta,
        &sha256_hex(&archive),
        archive.len() as u64,
        Route::Trickle { body: archive.clone(), every },
    );
    let b = Fixture::with_release(V);
    let mut child = b
        .command(assert_cmd::cargo::cargo_bin("ftpy"))
        .args(["install", "--profile", "fast", "--remote-cache", &url, "3.14.6t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_hit(&server, &blob, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = wait_bounded(&mut child, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&read_all(child.stderr.take().unwrap())).into_owned();
    assert!(signalled.elapsed() < Duration::from_secs(10), "took {:?}", signalled.elapsed());
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(b.configure_runs().is_empty(), "nothing built: {stderr}");
    assert!(lines_with(&stderr, "could not restore").is_empty(), "not a fault of the remote: {stderr}");
    assert!(partials(&b).is_empty(), "{:?}", partials(&b));
    assert!(b.versions().is_empty());
}

/// Fix: a registry sending a byte now and then held the install for the whole request timeout
/// (30 minutes). Under the minimum rate over FTPY_DOWNLOAD_SPEED_TIME, the download is given up:
/// a line and a build.
#[test]
fn a_trickling_blob_is_given_up_as_stalled() {
    let a = Fixture::with_release(V);
    let (id, meta, _) = exported(&a, "3.14.6t");
    // 400 bytes at 20 a second: 20 s whole, if nothing gives up.
    let body = vec![7u8; 400];
    let (_server, url, _) = fake_registry(
        &id,
        &meta,
        &sha256_hex(&body),
        body.len() as u64,
        Route::Trickle { body: body.clone(), every: Duration::from_millis(50) },
    );
    let b = Fixture::with_release(V);
    let started = Instant::now();
    let out = install_from(&b, &url, &[("FTPY_DOWNLOAD_SPEED_TIME", "2")], "3.14.6t");
    ok(&out);
    let stderr = stderr_of(&out);
    let warnings = lines_with(&stderr, "could not restore");
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("the transfer stalled"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    assert_eq!(b.configure_runs().len(), 1);
    assert!(partials(&b).is_empty(), "{:?}", partials(&b));
}

/// Fix: a `kill -9` during a pull left `<key>.tar.zst.partial-<pid>` in the build cache until a
/// `cache prune` a day later. The next pull of the key removes it; the install restores.
#[test]
fn a_pull_killed_hard_leaves_nothing_after_the_next_install() {
    let a = Fixture::with_release(V);
    let (id, meta, archive) = exported(&a, "3.14.6t");
    let (server, url, blob) = fake_registry(
        &id,
        &meta,
        &sha256_hex(&archive),
        archive.len() as u64,
        Route::Trickle { body: archive.clone(), every: Duration::from_millis(25) },
    );
    let b = Fixture::with_release(V);
    let mut child = b
        .command(assert_cmd::cargo::cargo_bin("ftpy"))
        .args(["install", "--profile", "fast", "--remote-cache", &url, "3.14.6t"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_hit(&server, &blob, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    kill_hard(&mut child);
    assert_eq!(partials(&b).len(), 1, "the killed pull's file");

    server.route(&blob, Route::Serve(archive));
    let out = install_from(&b, &url, &[], "3.14.6t");
    ok(&out);
    assert!(stderr_of(&out).contains("Restored 3.14.6t from the remote cache"), "{}", both(&out));
    assert!(b.configure_runs().is_empty());
    assert!(partials(&b).is_empty(), "{:?}", partials(&b));
    assert!(b.staging_leftovers().is_empty(), "{:?}", b.staging_leftovers());
}

/// Held: a manifest answered with a redirect to another host: the credentials stay home (the
/// redirected request carries no Authorization), and the entry restores.
#[test]
fn credentials_do_not_follow_a_redirect_to_another_host() {
    const SECRET: &str = "redirect-Secret-77aa";
    let a = Fixture::with_release(V);
    let (id, meta, archive) = exported(&a, "3.14.6t");
    let digest = format!("sha256:{}", sha256_hex(&archive));
    let elsewhere = TestServer::start();
    elsewhere.route("/m", Route::Serve(manifest(&meta, &digest, archive.len() as u64)));
    elsewhere.route("/b", Route::Serve(archive.clone()));
    let server = TestServer::start();
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("ftpy:{SECRET}")));
    let redirect = |to: &str| {
        Route::Guarded {
            authorization: basic.clone(),
            challenge: r#"Basic realm="r""#.into(),
            route: Box::new(Route::Raw(
                format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {}{to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", elsewhere.base)
                    .into_bytes(),
            )),
        }
    };
    server.route(&format!("/v2/{REPO}/manifests/{id}"), redirect("/m"));
    server.route(&format!("/v2/{REPO}/blobs/{digest}"), redirect("/b"));
    let url = format!("oci+http://{}/{REPO}", server.base.trim_start_matches("http://"));
    let b = Fixture::with_release(V);
    let out = install_from(&b, &url, &[("FTPY_REMOTE_CACHE_TOKEN", SECRET)], "3.14.6t");
    ok(&out);
    assert!(stderr_of(&out).contains("Restored 3.14.6t from the remote cache"), "{}", both(&out));
    let away = elsewhere.all_hits();
    assert_eq!(away.len(), 2, "{away:?}");
    assert!(away.iter().all(|h| h.authorization.is_none()), "{away:?}");
    assert!(!both(&out).contains(SECRET));
}

/// Held: a token service that answers garbage, a body without end, or an error whose body
/// echoes the credentials: a line (never the body, never the secret) and a build.
#[test]
fn a_broken_token_service_costs_a_line_and_a_build() {
    const SECRET: &str = "token-Secret-31c9";
    let a = Fixture::with_release(V);
    let (id, meta, archive) = exported(&a, "3.14.6t");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("ftpy:{SECRET}"));
    let echo = format!(
        "HTTP/1.1 500 Oops\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{{\"error\": \"bad Authorization: Basic {basic} ({SECRET})\"}}"
    );
    for (token, expect) in [
        (Route::Serve(b"<html>not json".to_vec()), "token request is not usable"),
        (Route::Serve(br#"{"token": "has spaces and \u0007"}"#.to_vec()), "no usable token"),
        (Route::Zeros { len: 64 << 20, content_length: None }, "token request is not usable"),
        (Route::Raw(echo.clone().into_bytes()), "HTTP 500"),
    ] {
        let server = TestServer::start();
        let challenge = format!(r#"Bearer realm="{}/token",service="s""#, server.base);
        let digest = format!("sha256:{}", sha256_hex(&archive));
        server.route(
            &format!("/v2/{REPO}/manifests/{id}"),
            Route::Guarded {
                authorization: "Bearer t".into(),
                challenge,
                route: Box::new(Route::Serve(manifest(&meta, &digest, archive.len() as u64))),
            },
        );
        let token_path = format!("/token?service=s&scope=repository%3A{}%3Apull", REPO.replace('/', "%2F"));
        server.route(&token_path, token);
        let url = format!("oci+http://{}/{REPO}", server.base.trim_start_matches("http://"));
        let b = Fixture::with_release(V);
        let started = Instant::now();
        let out = install_from(&b, &url, &[("FTPY_REMOTE_CACHE_TOKEN", SECRET)], "3.14.6t");
        ok(&out);
        let stderr = stderr_of(&out);
        let warnings = lines_with(&stderr, "could not restore");
        assert_eq!(warnings.len(), 1, "{stderr}\n{:?}", server.all_hits());
        assert!(warnings[0].contains(expect), "{expect}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
        for secret in [SECRET, basic.as_str()] {
            assert!(!both(&out).contains(secret), "{secret} shown: {stderr}");
        }
        assert_eq!(b.configure_runs().len(), 1);
    }
}

/// Held: odd `--remote-cache` values are refused as usage errors before anything is built, and
/// a password in one is never shown.
#[test]
fn odd_remote_cache_urls_are_usage_errors() {
    let fx = Fixture::with_release(V);
    for url in [
        "oci://",
        "oci://ghcr.io",
        "oci://user:pw-Secret-1@ghcr.io/a/b",
        "oci://ghcr.io/Acme/builds",
        "oci://ghcr.io/a b/c",
        "file://relative/dir",
        "ftp://example.com/x",
        "https://user:pw-Secret-1@example.com/x",
    ] {
        let out = install_from(&fx, url, &[], "3.14.6t");
        assert_eq!(out.status.code(), Some(2), "{url}: {}", both(&out));
        assert!(!both(&out).contains("pw-Secret-1"), "{url}: {}", both(&out));
    }
    assert!(fx.configure_runs().is_empty());
}

/// Held: a `file://` store that is no directory, or whose entry is a FIFO or a directory, costs
/// a line and a build, and never blocks.
#[test]
fn odd_file_stores_cost_a_line_and_a_build() {
    let a = Fixture::with_release(V);
    let (id, meta, _) = exported(&a, "3.14.6t");
    let fifo_store = tempfile::TempDir::new().unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(fifo_store.path().join(format!("{id}.json")))
        .status()
        .unwrap();
    assert!(status.success());
    let dir_store = tempfile::TempDir::new().unwrap();
    fs::write(dir_store.path().join(format!("{id}.json")), serde_json::to_vec(&meta).unwrap()).unwrap();
    fs::create_dir(dir_store.path().join(format!("{id}.tar.zst"))).unwrap();
    for url in [
        "file:///dev/zero".to_string(),
        format!("file://{}", fifo_store.path().display()),
        format!("file://{}", dir_store.path().display()),
    ] {
        let b = Fixture::with_release(V);
        let started = Instant::now();
        let out = install_from(&b, &url, &[], "3.14.6t");
        ok(&out);
        let stderr = stderr_of(&out);
        assert_eq!(lines_with(&stderr, "could not restore").len(), 1, "{url}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(30), "{url}");
        assert_eq!(b.configure_runs().len(), 1, "{url}");
    }
}

/// Held: metadata whose build prefix is `/`, one component, or climbs with `..` is refused
/// before anything is downloaded.
#[test]
fn metadata_with_an_odd_prefix_is_refused() {
    let a = Fixture::with_release(V);
    let (id, meta, archive) = exported(&a, "3.14.6t");
    for prefix in ["/", "/usr", "relative/path", "/opt/../etc"] {
        let store = tempfile::TempDir::new().unwrap();
        let mut odd = meta.clone();
        odd["prefix"] = prefix.into();
        fs::write(store.path().join(format!("{id}.json")), serde_json::to_vec(&odd).unwrap()).unwrap();
        fs::write(store.path().join(format!("{id}.tar.zst")), &archive).unwrap();
        let b = Fixture::with_release(V);
        let out = install_from(&b, &format!("file://{}", store.path().display()), &[], "3.14.6t");
        ok(&out);
        let stderr = stderr_of(&out);
        let warnings = lines_with(&stderr, "could not restore");
        assert_eq!(warnings.len(), 1, "{prefix}: {stderr}");
        assert!(
            warnings[0].contains("is neither ftpy's placeholder nor an absolute path"),
            "{prefix}: {stderr}"
        );
        assert_eq!(b.configure_runs().len(), 1, "{prefix}");
    }
}

/// A home whose `versions/<key>` is exactly `len` bytes long, under `fx`'s home.
fn home_with_prefix_len(fx: &Fixture, key: &str, len: usize) -> PathBuf {
    let base = fx.home.path().join("h");
    let fixed = base.as_os_str().len() + "/versions/".len() + key.len();
    let filler = len.checked_sub(fixed + 1).expect("a long enough length");
    let home = base.join("x".repeat(filler));
    assert_eq!(home.join("versions").join(key).as_os_str().len(), len);
    home
}

fn install_in(fx: &Fixture, home: &Path, args: &[&str]) -> Output {
    fx.ftpy().env("FTPY_HOME", home).args(["install", "--profile", "fast"]).args(args).output().unwrap()
}

/// The configure arguments' `--prefix` of the last build `fx` made.
fn last_configured_prefix(fx: &Fixture) -> String {
    let runs = fx.configure_runs();
    let run = runs.iter().find(|r| r.iter().any(|a| a.starts_with("--prefix="))).unwrap();
    run.iter().find_map(|a| a.strip_prefix("--prefix=")).unwrap().to_string()
}

/// Held: a prefix of exactly 200 bytes is built for the placeholder; one of 201 for itself, and
/// its entry then restores into a shorter home but, with a clear line and a build, not into a
/// longer one.
#[test]
fn homes_at_and_past_the_placeholder_length() {
    let key = "3.14.6t";
    let a = Fixture::with_release(V);
    let at = home_with_prefix_len(&a, key, 200);
    ok(&install_in(&a, &at, &[key]));
    assert!(last_configured_prefix(&a).starts_with(PLACEHOLDER));
    let library = fs::read(at.join("versions").join(key).join("lib/libpython3.14t.so")).unwrap();
    let p = at.join("versions").join(key).display().to_string();
    assert!(library.windows(p.len()).any(|w| w == p.as_bytes()));

    let b = Fixture::with_release(V);
    let past = home_with_prefix_len(&b, key, 201);
    let out = install_in(&b, &past, &[key]);
    ok(&out);
    let long_prefix = past.join("versions").join(key);
    assert_eq!(last_configured_prefix(&b), long_prefix.display().to_string(), "built for itself");
    let store = tempfile::TempDir::new().unwrap();
    ok(&b.ftpy().env("FTPY_HOME", &past).args(["cache", "export"]).arg(store.path()).output().unwrap());
    let url = format!("file://{}", store.path().display());

    // Into a shorter home: restored, every mention rewritten.
    let c = Fixture::with_release(V);
    let out = install_in(&c, c.home.path(), &["--remote-cache", &url, key]);
    ok(&out);
    assert!(stderr_of(&out).contains(&format!("Restored {key} from the remote cache")), "{}", both(&out));
    assert!(c.configure_runs().is_empty());
    let prefix = c.path("versions").join(key);
    let pc = fs::read_to_string(prefix.join("lib/pkgconfig/python3.pc")).unwrap();
    assert!(pc.starts_with(&format!("prefix={}\n", prefix.display())), "{pc}");
    for file in walk(&prefix) {
        let bytes = fs::read(&file).unwrap();
        let needle = long_prefix.as_os_str().as_encoded_bytes();
        assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{} names the old prefix", file.display());
    }

    // Into a longer home: refused with the reason, then built.
    let d = Fixture::with_release(V);
    let longer = home_with_prefix_len(&d, key, 230);
    let out = install_in(&d, &longer, &["--remote-cache", &url, key]);
    ok(&out);
    let stderr = stderr_of(&out);
    let refused = lines_with(&stderr, "cannot move the cached build");
    assert_eq!(refused.len(), 1, "{stderr}");
    assert!(
        refused[0].contains("at most 201 bytes fit") && refused[0].contains("building it from source"),
        "{stderr}"
    );
    assert_eq!(d.configure_runs().len(), 1);
    assert!(fs::read_dir(longer.join("tmp")).map(|d| d.count()).unwrap_or(0) == 0, "staging left");

    // With --no-build, the same refusal fails the install with its own exit code.
    let e = Fixture::with_release(V);
    let longer = home_with_prefix_len(&e, key, 230);
    let out = install_in(&e, &longer, &["--no-build", "--remote-cache", &url, key]);
    assert_eq!(out.status.code(), Some(16), "{}", both(&out));
    assert!(e.configure_runs().is_empty());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() && entry.path().extension().is_none_or(|e| e != "pyc") {
                found.push(entry.path());
            }
        }
    }
    found
}

/// Held: a home reached through a symbolic link: the tree names the home as given, and restores
/// from a store made elsewhere.
#[test]
fn a_symlinked_home_restores_and_names_the_path_given() {
    let a = Fixture::with_release(V);
    let (id, _, _) = exported(&a, "3.14.6t");
    let store = tempfile::TempDir::new().unwrap();
    ok(&a.ftpy().args(["cache", "export"]).arg(store.path()).output().unwrap());
    assert!(store.path().join(format!("{id}.json")).exists());
    let b = Fixture::with_release(V);
    let real = b.home.path().join("real-home");
    fs::create_dir_all(&real).unwrap();
    let link = b.home.path().join("link-home");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let url = format!("file://{}", store.path().display());
    let out = install_in(&b, &link, &["--remote-cache", &url, "3.14.6t"]);
    ok(&out);
    assert!(b.configure_runs().is_empty(), "{}", both(&out));
    let pc = fs::read_to_string(real.join("versions/3.14.6t/lib/pkgconfig/python3.pc")).unwrap();
    let named = [link.join("versions/3.14.6t"), real.canonicalize().unwrap().join("versions/3.14.6t")];
    assert!(named.iter().any(|p| pc.starts_with(&format!("prefix={}\n", p.display()))), "{pc}");
    b.ftpy().env("FTPY_HOME", &link).args(["which", "3.14.6t"]).assert().success();
}

/// Held: a kill while a restored tree waits in staging (after relocation, before it is moved into
/// place): the next install throws the staging away and restores again.
#[test]
fn a_kill_after_a_restore_is_unpacked_leaves_nothing_behind() {
    let a = Fixture::with_release(V);
    let (_, _, _) = exported(&a, "3.14.6t");
    let store = tempfile::TempDir::new().unwrap();
    ok(&a.ftpy().args(["cache", "export"]).arg(store.path()).output().unwrap());
    let url = format!("file://{}", store.path().display());
    let b = Fixture::with_release(V);
    let pause = b.home.path().join("paused");
    let mut child = b
        .command(assert_cmd::cargo::cargo_bin("ftpy"))
        .env("FTPY_TEST_PAUSE_AT", "install:restore-unpacked")
        .env("FTPY_TEST_PAUSE_FILE", &pause)
        .args(["install", "--profile", "fast", "--remote-cache", &url, "3.14.6t"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for_file(&pause, Duration::from_secs(30)), "never paused");
    kill_hard(&mut child);
    assert!(!b.staging_leftovers().is_empty(), "the restore was staged");
    assert!(b.versions().is_empty());
    let out = b.ftpy().args(["install", "--profile", "fast", "3.14.6t"]).output().unwrap();
    ok(&out);
    assert!(stdout_of(&out).contains("restored from the build cache"), "{}", both(&out));
    assert!(b.configure_runs().is_empty());
    assert!(b.staging_leftovers().is_empty(), "{:?}", b.staging_leftovers());
}

/// Fix (as for a pull): a kill after a build was archived but before it became an entry (the
/// checks running) left its partial archive until a `cache prune` a day later. The next store
/// of the key removes it.
#[test]
fn a_kill_before_the_archive_is_committed_leaves_nothing_after_the_next_install() {
    let fx = Fixture::with_release(V);
    let pause = fx.home.path().join("paused");
    let mut child = fx
        .command(assert_cmd::cargo::cargo_bin("ftpy"))
        .env("FTPY_TEST_PAUSE_AT", "install:checked")
        .env("FTPY_TEST_PAUSE_FILE", &pause)
        .args(["install", "--profile", "fast", "3.14.6t"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for_file(&pause, Duration::from_secs(60)), "never paused");
    kill_hard(&mut child);
    assert_eq!(partials(&fx).len(), 1, "the archive made before the checks");
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.14.6t"]).output().unwrap();
    ok(&out);
    assert!(partials(&fx).is_empty(), "{:?}", partials(&fx));
    let list = stdout_of(&fx.ftpy().args(["cache", "list"]).output().unwrap());
    assert_eq!(list.lines().count(), 1, "{list}");
}

/// Fix: a manifest (or a token, or a store's metadata) sent a byte now and then held the install
/// for the download's 30-minute bound. A small answer must come whole within twice
/// FTPY_DOWNLOAD_SPEED_TIME (at least 10 s): a line and a build.
#[test]
fn a_trickling_manifest_or_metadata_is_given_up() {
    let a = Fixture::with_release(V);
    let (id, meta, archive) = exported(&a, "3.14.6t");
    let digest = format!("sha256:{}", sha256_hex(&archive));
    let every = Duration::from_millis(50);
    let registry = TestServer::start();
    let body = manifest(&meta, &digest, archive.len() as u64);
    registry.route(&format!("/v2/{REPO}/manifests/{id}"), Route::Trickle { body, every });
    let store = TestServer::start();
    let body = serde_json::to_vec(&meta).unwrap();
    store.route(&format!("/s/{id}.json"), Route::Trickle { body, every });
    for url in [
        format!("oci+http://{}/{REPO}", registry.base.trim_start_matches("http://")),
        format!("{}/s", store.base),
    ] {
        let b = Fixture::with_release(V);
        let started = Instant::now();
        let out = install_from(&b, &url, &[("FTPY_DOWNLOAD_SPEED_TIME", "2")], "3.14.6t");
        ok(&out);
        let stderr = stderr_of(&out);
        assert_eq!(lines_with(&stderr, "could not restore").len(), 1, "{url}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(25), "{url}: took {:?}", started.elapsed());
        assert_eq!(b.configure_runs().len(), 1, "{url}");
    }
}
