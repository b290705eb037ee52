//! Remote build caches against a real registry (the CNCF Distribution registry,
//! `tests/common/registry.rs`), static stores served over HTTP and `file://`, and a fake
//! registry with a token service for the Bearer exchange, all with the fake CPython source.
//!
//! Authentication against the real registry is htpasswd basic auth: its token flow would need a
//! second server issuing signed JWTs. The Bearer challenge and token exchange are tested here
//! against a fake registry and token service ([`bearer_challenge_is_met_with_a_pull_token`]).
//!
//! Left out: a registry that accepts the connection and never answers. ftpy gives up on a
//! response after 60 s (`system::http`), too long for this suite.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use common::registry::{Registry, free_port};
use common::*;

const V: &str = "3.14.6";
const REPO: &str = "ftpy/builds";
/// The start of the placeholder prefix builds are made for (`relocate::placeholder_prefix`).
const PLACEHOLDER: &str = "/ftpy-relocatable-build-prefix-";

/// `ftpy` of `fx` (its mirror, recipes and records) with its home at `home`.
fn ftpy_in(fx: &Fixture, home: &Path) -> assert_cmd::Command {
    let mut cmd = fx.ftpy();
    cmd.env("FTPY_HOME", home);
    cmd
}

/// `ftpy install --profile fast ARGS...` in `home`.
fn install(fx: &Fixture, home: &Path, args: &[&str]) -> Output {
    ftpy_in(fx, home).args(["install", "--profile", "fast"]).args(args).output().unwrap()
}

/// Both streams, for messages and for what must never appear.
fn both(out: &Output) -> String {
    format!("{}{}", stdout_of(out), stderr_of(out))
}

fn ok(out: &Output) {
    assert!(out.status.success(), "exit {:?}\n{}", out.status.code(), both(out));
}

/// A home for the second machine: deeper, so its prefixes are longer than the first home's.
fn other_home(fx: &Fixture) -> PathBuf {
    fx.home.path().join("a/much/longer/path/to/the/team/ftpy-home")
}

/// The entry id `ftpy cache key` prints for one build.
fn entry_id(fx: &Fixture, key: &str) -> String {
    let out = fx.ftpy().args(["cache", "key", "--profile", "fast", key]).output().unwrap();
    ok(&out);
    stdout_of(&out).trim().to_string()
}

/// Every regular file under `dir` (symbolic links are not followed).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

/// The files under `dir` whose bytes contain `needle`.
fn files_naming(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| fs::read(f).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes()))
        .collect()
}

/// An HTTP client for the test's own requests, which reads any status.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().new_agent()
}

/// The tags of the repository, as the registry lists them.
fn tags(registry: &Registry, repository: &str) -> Vec<String> {
    let url = format!("{}/v2/{repository}/tags/list", registry.base());
    let mut response = agent().get(&url).call().unwrap();
    let list: serde_json::Value =
        serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    let mut tags: Vec<String> = list["tags"]
        .as_array()
        .map(|t| t.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    tags.sort();
    tags
}

/// The manifest tagged `tag`, as the registry holds it.
fn manifest(registry: &Registry, tag: &str) -> serde_json::Value {
    let url = format!("{}/v2/{REPO}/manifests/{tag}", registry.base());
    let mut response =
        agent().get(&url).header("Accept", "application/vnd.oci.image.manifest.v1+json").call().unwrap();
    assert_eq!(response.status().as_u16(), 200, "GET {url}");
    serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap()
}

/// The lines of `text` that say something about `what`.
fn lines_with<'a>(text: &'a str, what: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(what)).collect()
}

/// What a restored or built tree at `prefix` must hold: the pkg-config file, the config script
/// and the "library" (its strings padded to the length they were built with) naming `prefix`,
/// and no file (the receipt included) naming `elsewhere` or the placeholder.
fn assert_relocated(prefix: &Path, key: &str, elsewhere: &Path) {
    let series = "3.14";
    let suffix = if key.ends_with('t') { "t" } else { "" };
    let p = prefix.display().to_string();
    let pc = fs::read_to_string(prefix.join("lib/pkgconfig/python3.pc")).unwrap();
    assert!(pc.starts_with(&format!("prefix={p}\n")), "{pc}");
    let config = prefix.join(format!("bin/python{series}{suffix}-config"));
    let out = std::process::Command::new(&config).output().unwrap();
    assert_eq!(stdout_of(&out).trim(), format!("-I{p}/include/python{series}{suffix} -L{p}/lib"));
    let library = fs::read(prefix.join(format!("lib/libpython{series}{suffix}.so"))).unwrap();
    let strings: Vec<String> =
        library.split(|&b| b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    assert_eq!(strings[0], "\x7fELF");
    assert!(strings[1].starts_with(&format!("{p}/")) && strings[1].ends_with("/lib"), "{strings:?}");
    assert!(strings[3].starts_with(&p), "{strings:?}");
    assert_eq!(strings[1].len(), 200 + "/lib".len(), "padded to the placeholder's length");
    for needle in [PLACEHOLDER.to_string(), elsewhere.display().to_string()] {
        let naming = files_naming(prefix, &needle);
        assert!(naming.is_empty(), "{needle} named in {naming:?}");
    }
}

#[test]
fn push_then_install_into_another_home_restores_relocated() {
    let Some(registry) = Registry::start() else { return };
    let url = registry.url(REPO);
    let a = Fixture::with_release(V);
    let out = install(&a, a.home.path(), &["--push", "--remote-cache", &url, "3.14.6t"]);
    ok(&out);
    let id = entry_id(&a, "3.14.6t");
    let stderr = stderr_of(&out);
    assert!(stderr.contains(&format!("3.14.6t is not in the remote cache {url} ({id})")), "{stderr}");
    assert!(stderr.contains(&format!("Pushed {id} to {url}")), "{stderr}");
    assert_eq!(a.configure_runs().len(), 1);
    assert_relocated(&a.path("versions/3.14.6t"), "3.14.6t", Path::new(PLACEHOLDER));
    // One ORAS-style artifact under the entry's id.
    assert_eq!(tags(&registry, REPO), std::slice::from_ref(&id));
    let m = manifest(&registry, &id);
    assert_eq!(m["artifactType"], "application/vnd.ftpy.build.v1");
    assert_eq!(m["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    assert_eq!(m["layers"][0]["annotations"]["org.opencontainers.image.title"], format!("{id}.tar.zst"));
    let meta: serde_json::Value =
        serde_json::from_str(m["annotations"]["dev.ftpy.build.metadata"].as_str().unwrap()).unwrap();
    assert_eq!(meta["inputs"]["install_key"], "3.14.6t");
    assert_eq!(format!("sha256:{}", meta["archive_sha256"].as_str().unwrap()), m["layers"][0]["digest"]);

    // Another machine: another fixture (own mirror and records), a home at a longer path.
    let b = Fixture::with_release(V);
    let home = other_home(&b);
    let out = install(&b, &home, &["--remote-cache", &url, "3.14.6t"]);
    ok(&out);
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert!(stderr.contains(&format!("Downloaded {id} from {url}")), "{stderr}");
    assert!(stderr.contains(&format!("Restored 3.14.6t from the remote cache {url}")), "{stderr}");
    assert!(
        stdout
            .contains(&format!("Installed 3.14.6t (free-threaded, restored from the remote cache {url} in")),
        "{stdout}"
    );
    assert!(b.configure_runs().is_empty(), "nothing built");
    assert!(b.server.hits(&Fixture::mirror_path(V)).is_empty(), "no source downloaded");
    let prefix = home.join("versions/3.14.6t");
    assert_relocated(&prefix, "3.14.6t", &a.path("versions/3.14.6t"));
    let receipt = fs::read_to_string(prefix.join("ftpy-receipt.json")).unwrap();
    assert!(receipt.contains("\"restored_from_cache\": true"), "{receipt}");
    // The pulled entry is now in the second home's build cache too, under the same key.
    let list = stdout_of(&ftpy_in(&b, &home).args(["cache", "list"]).output().unwrap());
    assert!(list.contains(&id), "{list}");
    ftpy_in(&b, &home).args(["which", "3.14.6t"]).assert().success();
}

#[test]
fn a_pair_pushed_is_restored_whole_in_another_home() {
    let Some(registry) = Registry::start() else { return };
    let url = registry.url(REPO);
    let a = Fixture::with_release(V);
    ok(&install(&a, a.home.path(), &["--pair", "--push", "--remote-cache", &url, V]));
    let ids = [entry_id(&a, "3.14.6"), entry_id(&a, "3.14.6t")];
    assert_eq!(tags(&registry, REPO), ids);

    let b = Fixture::with_release(V);
    let home = other_home(&b);
    let out = install(&b, &home, &["--pair", "--remote-cache", &url, V]);
    ok(&out);
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    for key in ["3.14.6", "3.14.6t"] {
        assert!(stderr.contains(&format!("Restored {key} from the remote cache {url}")), "{stderr}");
        assert_relocated(&home.join("versions").join(key), key, &a.path("versions").join(key));
    }
    assert_eq!(stdout.matches(&format!("restored from the remote cache {url} in")).count(), 2, "{stdout}");
    assert!(b.configure_runs().is_empty(), "nothing built");
    assert_eq!(list_dir(&home.join("versions")), ["3.14.6", "3.14.6t"]);
}

#[test]
fn cache_push_all_or_named_then_pull_and_install_offline() {
    let Some(mut registry) = Registry::start() else { return };
    let url = registry.url(REPO);
    let a = Fixture::with_release(V);
    ok(&install(&a, a.home.path(), &["--pair", V]));
    let ids = [entry_id(&a, "3.14.6"), entry_id(&a, "3.14.6t")];

    // No argument: every installation.
    let out = a.ftpy().args(["cache", "push", "--to", &url]).output().unwrap();
    ok(&out);
    let stdout = stdout_of(&out);
    assert!(stdout.contains(&format!("Pushed 3.14.6 to {url}:{}", ids[0])), "{stdout}");
    assert!(stdout.contains(&format!("Pushed 3.14.6t to {url}:{}", ids[1])), "{stdout}");
    assert_eq!(tags(&registry, REPO), ids);
    // Again: the registry has them.
    let out = a.ftpy().args(["cache", "push", "--to", &url]).output().unwrap();
    ok(&out);
    assert!(stdout_of(&out).contains(&format!("3.14.6t is in {url}:{} already", ids[1])), "{}", both(&out));

    // By request, into another repository: that build only (FTPY_REMOTE_CACHE names it).
    let only = registry.url("ftpy/only-ft");
    let out = a.ftpy().env("FTPY_REMOTE_CACHE", &only).args(["cache", "push", "3.14t"]).output().unwrap();
    ok(&out);
    assert!(stdout_of(&out).contains(&format!("Pushed 3.14.6t to {only}:{}", ids[1])), "{}", both(&out));
    assert_eq!(tags(&registry, "ftpy/only-ft"), [ids[1].clone()]);
    // Something not installed is refused by name.
    let out = a.ftpy().args(["cache", "push", "--to", &url, "3.13"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(stderr_of(&out).contains("3.13 is not installed"), "{}", both(&out));

    // Pull into a fresh home, without installing.
    let c = Fixture::with_release(V);
    let out =
        c.ftpy().args(["cache", "pull", "--from", &url, "--pair", "--profile", "fast", V]).output().unwrap();
    ok(&out);
    let stdout = stdout_of(&out);
    for (key, id) in ["3.14.6", "3.14.6t"].iter().zip(&ids) {
        assert!(stdout.contains(&format!("Pulled {key} from {url}:{id}")), "{stdout}");
    }
    assert!(c.versions().is_empty(), "pulled, not installed");
    // A second pull finds them local.
    let out =
        c.ftpy().args(["cache", "pull", "--from", &url, "--profile", "fast", "3.14.6t"]).output().unwrap();
    ok(&out);
    assert!(stdout_of(&out).contains(&format!("3.14.6t is in the build cache already ({})", ids[1])));

    // Offline: the registry is gone, the install needs neither it nor the mirror.
    registry.stop();
    let out = install(&c, c.home.path(), &["--no-build", "--remote-cache", &url, "--pair", V]);
    ok(&out);
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert!(stderr.contains("Restored 3.14.6 from the build cache"), "{stderr}");
    assert!(stderr.contains("Restored 3.14.6t from the build cache"), "{stderr}");
    assert!(!stderr.contains("could not"), "the remote was not asked: {stderr}");
    assert_eq!(stdout.matches("restored from the build cache in").count(), 2, "{stdout}");
    assert!(c.configure_runs().is_empty());
    assert!(c.server.hits(&Fixture::mirror_path(V)).is_empty());
    assert_eq!(c.versions(), ["3.14.6", "3.14.6t"]);
}

#[test]
fn a_registry_that_is_down_costs_one_warning_and_a_build() {
    let url = format!("oci+http://127.0.0.1:{}/{REPO}", free_port());
    let fx = Fixture::with_release(V);
    let out = install(&fx, fx.home.path(), &["--remote-cache", &url, "3.14.6t"]);
    ok(&out);
    let stderr = stderr_of(&out);
    let warnings = lines_with(&stderr, "remote cache");
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains(&format!("could not restore 3.14.6t from the remote cache {url}"))
            && warnings[0].contains("cannot reach the registry")
            && warnings[0].ends_with("building it from source"),
        "{stderr}"
    );
    assert_eq!(fx.configure_runs().len(), 1, "built");
    assert!(stdout_of(&out).contains("Installed 3.14.6t (free-threaded, built"));

    // `cache push` and `cache pull` fail, with their own exit code and a hint.
    for args in [
        vec!["cache", "push", "--to", url.as_str()],
        vec!["cache", "pull", "--from", url.as_str(), "--profile", "fast", "3.14.6"],
    ] {
        let out = fx.ftpy().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(17), "{args:?}: {}", both(&out));
        let stderr = stderr_of(&out);
        assert!(stderr.contains("cannot reach the registry"), "{stderr}");
        assert!(stderr.contains("check the URL and that the registry is up"), "{stderr}");
    }
}

#[test]
fn a_tampered_blob_is_refused_with_its_digest_and_built_instead() {
    let Some(registry) = Registry::start() else { return };
    let url = registry.url(REPO);
    let a = Fixture::with_release(V);
    ok(&install(&a, a.home.path(), &["--push", "--remote-cache", &url, "3.14.6t"]));
    let id = entry_id(&a, "3.14.6t");
    let digest = manifest(&registry, &id)["layers"][0]["digest"].as_str().unwrap().to_string();
    let hex = digest.strip_prefix("sha256:").unwrap();
    let data = registry.blob_data(hex);
    let length = fs::metadata(&data).unwrap().len() as usize;
    fs::write(&data, vec![b'x'; length]).unwrap();

    // `cache pull` refuses it, and keeps nothing.
    let b = Fixture::with_release(V);
    let out =
        b.ftpy().args(["cache", "pull", "--from", &url, "--profile", "fast", "3.14.6t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(17), "{}", both(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains(&format!("blob {digest} from the registry has sha256")), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(list_dir(&b.path("cache/builds")).is_empty(), "{:?}", list_dir(&b.path("cache/builds")));

    // An install says so in one line, and builds.
    let out = install(&b, b.home.path(), &["--remote-cache", &url, "3.14.6t"]);
    ok(&out);
    let stderr = stderr_of(&out);
    let warnings = lines_with(&stderr, "could not restore");
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains(&digest) && warnings[0].contains("refused"), "{stderr}");
    assert_eq!(b.configure_runs().len(), 1, "built from source");
    // The build cache holds the local build only: no partial download, no second entry.
    let cached = list_dir(&b.path("cache/builds"));
    assert_eq!(cached.len(), 2, "{cached:?}");
    let meta: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(
            b.path("cache/builds").join(cached.iter().find(|f| f.ends_with(".json")).unwrap()),
        )
        .unwrap(),
    )
    .unwrap();
    let tampered = sha256_hex(&vec![b'x'; length]);
    assert_ne!(meta["archive_sha256"], tampered.as_str());
    assert!(b.staging_leftovers().is_empty());

    // The blob gone from the registry's storage: it answers 404, which costs a line and a build.
    fs::remove_file(&data).unwrap();
    let c = Fixture::with_release(V);
    let out = install(&c, c.home.path(), &["--remote-cache", &url, "3.14.6t"]);
    ok(&out);
    let stderr = stderr_of(&out);
    let warnings = lines_with(&stderr, "could not restore");
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains(&format!("the registry answered blob {digest}")), "{stderr}");
    assert!(warnings[0].contains("HTTP 404"), "{stderr}");
    assert_eq!(c.configure_runs().len(), 1, "built from source");
}

#[test]
fn metadata_of_another_build_under_a_tag_is_refused() {
    let Some(registry) = Registry::start() else { return };
    let url = registry.url(REPO);
    let a = Fixture::with_release(V);
    ok(&install(&a, a.home.path(), &["--push", "--remote-cache", &url, "3.14.6t"]));
    let (gil, ft) = (entry_id(&a, "3.14.6"), entry_id(&a, "3.14.6t"));
    // The free-threaded build's manifest, put under the GIL build's tag.
    let body = serde_json::to_vec(&manifest(&registry, &ft)).unwrap();
    let response = agent()
        .put(&format!("{}/v2/{REPO}/manifests/{gil}", registry.base()))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .send(&body[..])
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);

    let b = Fixture::with_release(V);
    let out = install(&b, b.home.path(), &["--remote-cache", &url, "3.14.6"]);
    ok(&out);
    let stderr = stderr_of(&out);
    let warnings = lines_with(&stderr, "could not restore");
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains(&format!("the entry {gil} at {url} is not usable"))
            && warnings[0]
                .contains("its metadata does not match the build asked for: it is 3.14.6t, not 3.14.6"),
        "{stderr}"
    );
    assert_eq!(b.configure_runs().len(), 1, "built");
    assert!(stdout_of(&out).contains("Installed 3.14.6 (GIL, built"), "{}", both(&out));
}

#[test]
fn credentials_wrong_missing_and_right_and_never_shown() {
    const USER: &str = "alice";
    const PASSWORD: &str = "right-Pa55word-7f3c";
    const WRONG: &str = "wrong-Pa55word-91ab";
    let Some(registry) = Registry::start_with_password(USER, PASSWORD) else { return };
    let url = registry.url(REPO);
    // The registry asks for basic credentials, over plain HTTP.
    let response = agent().get(&format!("{}/v2/", registry.base())).call();
    let response = response.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let challenge = response.headers().get("www-authenticate").unwrap().to_str().unwrap();
    assert_eq!(challenge, r#"Basic realm="ftpy-test""#);

    let a = Fixture::with_release(V);
    let wrong = |cmd: &mut assert_cmd::Command| {
        cmd.env("FTPY_REMOTE_CACHE_USER", USER).env("FTPY_REMOTE_CACHE_TOKEN", WRONG);
    };
    // An install with wrong credentials: a warning for the lookup and the push, a build, exit 0.
    let mut cmd = ftpy_in(&a, a.home.path());
    wrong(&mut cmd);
    let out = cmd
        .args(["install", "--profile", "fast", "--push", "--remote-cache", &url, "3.14.6t"])
        .output()
        .unwrap();
    ok(&out);
    let stderr = stderr_of(&out);
    assert!(stderr.contains("could not restore 3.14.6t"), "{stderr}");
    assert!(stderr.contains("the credentials were not accepted"), "{stderr}");
    assert!(stderr.contains("could not push"), "{stderr}");
    assert_eq!(a.configure_runs().len(), 1);
    let mut seen = both(&out);

    // `cache push`: exit 17, a message and a hint; without credentials, another message.
    let mut cmd = a.ftpy();
    wrong(&mut cmd);
    let out = cmd.args(["cache", "push", "--to", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(17), "{}", both(&out));
    let stderr = stderr_of(&out);
    assert_eq!(stderr.matches("failed to push 3.14.6t").count(), 1, "said once: {stderr}");
    assert!(stderr.contains("(HTTP 401): the credentials were not accepted"), "{stderr}");
    assert!(stderr.contains("check FTPY_REMOTE_CACHE_TOKEN (and FTPY_REMOTE_CACHE_USER)"), "{stderr}");
    seen.push_str(&both(&out));
    let out = a.ftpy().args(["cache", "push", "--to", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(17), "{}", both(&out));
    assert!(stderr_of(&out).contains("(HTTP 401): it wants credentials"), "{}", both(&out));
    assert!(stderr_of(&out).contains("give a token in FTPY_REMOTE_CACHE_TOKEN"), "{}", both(&out));

    // The right ones, from the environment.
    let out = a
        .ftpy()
        .env("FTPY_REMOTE_CACHE_USER", USER)
        .env("FTPY_REMOTE_CACHE_TOKEN", PASSWORD)
        .args(["cache", "push", "--to", &url])
        .output()
        .unwrap();
    ok(&out);
    let id = entry_id(&a, "3.14.6t");
    assert!(stdout_of(&out).contains(&format!("Pushed 3.14.6t to {url}:{id}")), "{}", both(&out));
    seen.push_str(&both(&out));

    // And from a Docker configuration: another home restores with them.
    let docker = tempfile::TempDir::new().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    fs::write(
        docker.path().join("config.json"),
        format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, registry.host()),
    )
    .unwrap();
    let b = Fixture::with_release(V);
    let out = b
        .ftpy()
        .env("DOCKER_CONFIG", docker.path())
        .args(["install", "--profile", "fast", "--remote-cache", &url, "3.14.6t"])
        .output()
        .unwrap();
    ok(&out);
    assert!(
        stderr_of(&out).contains(&format!("Restored 3.14.6t from the remote cache {url}")),
        "{}",
        both(&out)
    );
    assert!(b.configure_runs().is_empty());
    seen.push_str(&both(&out));

    // Never shown, never stored: not in any output, receipt, cache metadata or log.
    let encoded = [
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}")),
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{WRONG}")),
    ];
    for secret in [PASSWORD, WRONG, &encoded[0], &encoded[1]] {
        assert!(!seen.contains(secret), "{secret} shown:\n{seen}");
        for home in [a.home.path(), b.home.path()] {
            assert!(
                files_naming(home, secret).is_empty(),
                "{secret} stored: {:?}",
                files_naming(home, secret)
            );
        }
    }
}

#[test]
fn a_build_for_a_newer_glibc_is_not_restored() {
    let a = Fixture::with_release(V);
    ok(&install(&a, a.home.path(), &["3.14.6t"]));
    let id = entry_id(&a, "3.14.6t");
    let dir = tempfile::TempDir::new().unwrap();
    ok(&a.ftpy().args(["cache", "export"]).arg(dir.path()).output().unwrap());
    let meta_path = dir.path().join(format!("{id}.json"));
    let mut meta: serde_json::Value = serde_json::from_str(&fs::read_to_string(&meta_path).unwrap()).unwrap();
    assert_eq!(meta["libc"], "glibc", "this test assumes a glibc machine");
    meta["libc_version"] = "9.99".into();
    let server = TestServer::start();
    server.route(&format!("/builds/{id}.json"), Route::Serve(serde_json::to_vec(&meta).unwrap()));
    server.route(
        &format!("/builds/{id}.tar.zst"),
        Route::Serve(fs::read(dir.path().join(format!("{id}.tar.zst"))).unwrap()),
    );
    let url = format!("{}/builds", server.base);

    let b = Fixture::with_release(V);
    let out = install(&b, b.home.path(), &["--remote-cache", &url, "3.14.6t"]);
    ok(&out);
    let stderr = stderr_of(&out);
    let warnings = lines_with(&stderr, "could not restore");
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("it was linked against glibc 9.99, which this machine's glibc"), "{stderr}");
    assert_eq!(b.configure_runs().len(), 1, "built");
    assert!(server.hits(&format!("/builds/{id}.tar.zst")).is_empty(), "the archive was not even fetched");
}

#[test]
fn no_build_on_a_miss_fails_with_its_own_exit_code_and_builds_nothing() {
    let fx = Fixture::with_release(V);
    let out = install(&fx, fx.home.path(), &["--no-build", "3.14.6t"]);
    assert_eq!(out.status.code(), Some(16), "{}", both(&out));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(
            "3.14.6t could not be restored from the build cache, and --no-build forbids building it"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("ftpy install --push --remote-cache URL --profile fast 3.14.6t"), "{stderr}");
    assert!(stderr.contains("`ftpy cache key --profile fast 3.14.6t` prints its id"), "{stderr}");
    assert!(
        stderr.contains("name the team's cache with --remote-cache URL or FTPY_REMOTE_CACHE"),
        "{stderr}"
    );

    // A registry that is down: the same, after one line saying so.
    let url = format!("oci+http://127.0.0.1:{}/{REPO}", free_port());
    let out = install(&fx, fx.home.path(), &["--no-build", "--remote-cache", &url, "3.14.6t"]);
    assert_eq!(out.status.code(), Some(16), "{}", both(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("and --no-build forbids a build"), "{stderr}");
    assert!(
        stderr.contains(&format!("3.14.6t could not be restored from the build cache or from {url}")),
        "{stderr}"
    );

    assert!(fx.configure_runs().is_empty(), "nothing built");
    assert!(fx.server.hits(&Fixture::mirror_path(V)).is_empty(), "nothing downloaded");
    assert!(fx.versions().is_empty(), "nothing installed");
    assert!(fx.staging_leftovers().is_empty());
}

#[test]
fn no_build_on_a_registry_miss() {
    let Some(registry) = Registry::start() else { return };
    let url = registry.url(REPO);
    let fx = Fixture::with_release(V);
    let out = install(&fx, fx.home.path(), &["--no-build", "--remote-cache", &url, "--pair", V]);
    assert_eq!(out.status.code(), Some(16), "{}", both(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains(&format!("3.14.6 is not in the remote cache {url}")), "{stderr}");
    assert!(
        stderr.contains(&format!("could not be restored from the build cache or from {url}")),
        "{stderr}"
    );
    assert!(fx.configure_runs().is_empty());
    assert!(fx.versions().is_empty());
}

#[test]
fn cache_export_serves_over_http_and_file_urls_read_only() {
    let a = Fixture::with_release(V);
    ok(&install(&a, a.home.path(), &["--pair", V]));
    let ids = [entry_id(&a, "3.14.6"), entry_id(&a, "3.14.6t")];
    let dir = tempfile::TempDir::new().unwrap();
    let out = a.ftpy().args(["cache", "export"]).arg(dir.path()).output().unwrap();
    ok(&out);
    for id in &ids {
        assert!(stdout_of(&out).contains(&format!("wrote {id}.tar.zst")), "{}", both(&out));
    }
    let mut expected: Vec<String> =
        ids.iter().flat_map(|id| [format!("{id}.json"), format!("{id}.tar.zst")]).collect();
    expected.sort();
    assert_eq!(list_dir(dir.path()), expected);
    let out = a.ftpy().args(["cache", "export"]).arg(dir.path()).output().unwrap();
    assert!(stdout_of(&out).contains(&format!("kept {}.tar.zst", ids[0])), "{}", both(&out));

    // Over HTTP, from any web server.
    let server = TestServer::start();
    for name in &expected {
        server.route(&format!("/team/builds/{name}"), Route::Serve(fs::read(dir.path().join(name)).unwrap()));
    }
    let http = format!("{}/team/builds/", server.base);
    let b = Fixture::with_release(V);
    let home = other_home(&b);
    let out = install(&b, &home, &["--pair", "--remote-cache", &http, V]);
    ok(&out);
    assert_eq!(
        stdout_of(&out).matches("restored from the remote cache http://").count(),
        2,
        "{}",
        both(&out)
    );
    assert!(stderr_of(&out).contains("Restored 3.14.6t from the remote cache http://"), "{}", both(&out));
    assert!(b.configure_runs().is_empty());
    assert_relocated(&home.join("versions/3.14.6t"), "3.14.6t", &a.path("versions/3.14.6t"));

    // From a directory.
    let c = Fixture::with_release(V);
    let file = format!("file://{}", dir.path().display());
    let out = install(&c, c.home.path(), &["--pair", "--remote-cache", &file, V]);
    ok(&out);
    assert_eq!(
        stdout_of(&out).matches("restored from the remote cache file://").count(),
        2,
        "{}",
        both(&out)
    );
    assert!(c.configure_runs().is_empty());
    assert_eq!(c.versions(), ["3.14.6", "3.14.6t"]);

    // Read-only: no pushing there.
    for url in [&http, &file] {
        let out = install(&c, c.home.path(), &["--reinstall", "--push", "--remote-cache", url, "3.14.6t"]);
        assert_eq!(out.status.code(), Some(2), "{}", both(&out));
        assert!(
            stderr_of(&out).contains("is read-only: builds are pushed to an OCI registry"),
            "{}",
            both(&out)
        );
        let out = c.ftpy().args(["cache", "push", "--to", url]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    }
    assert_eq!(c.configure_runs().len(), 0);
}

/// A registry that answers 401 with a Bearer challenge, and its token service: the client asks
/// the service for a pull token with its credentials as Basic auth, then sends the token.
#[test]
fn bearer_challenge_is_met_with_a_pull_token() {
    const TOKEN: &str = "registry-token-5e1f";
    const SECRET: &str = "service-Secret-0c4d";
    let a = Fixture::with_release(V);
    ok(&install(&a, a.home.path(), &["3.14.6t"]));
    let id = entry_id(&a, "3.14.6t");
    let dir = tempfile::TempDir::new().unwrap();
    ok(&a.ftpy().args(["cache", "export"]).arg(dir.path()).output().unwrap());
    let meta = fs::read_to_string(dir.path().join(format!("{id}.json"))).unwrap();
    let archive = fs::read(dir.path().join(format!("{id}.tar.zst"))).unwrap();
    let digest = format!("sha256:{}", sha256_hex(&archive));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.ftpy.build.v1",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": format!("sha256:{}", sha256_hex(b"{}")), "size": 2},
        "layers": [{"mediaType": "application/vnd.ftpy.build.tree.v1.tar+zstd", "digest": digest, "size": archive.len()}],
        "annotations": {"dev.ftpy.build.metadata": serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&meta).unwrap()).unwrap()},
    });

    let server = TestServer::start();
    let challenge = format!(r#"Bearer realm="{}/token",service="fake-registry""#, server.base);
    let guarded = |route| Route::Guarded {
        authorization: format!("Bearer {TOKEN}"),
        challenge: challenge.clone(),
        route: Box::new(route),
    };
    server.route(
        &format!("/v2/{REPO}/manifests/{id}"),
        guarded(Route::Typed {
            body: serde_json::to_vec(&manifest).unwrap(),
            content_type: "application/vnd.oci.image.manifest.v1+json".into(),
        }),
    );
    server.route(&format!("/v2/{REPO}/blobs/{digest}"), guarded(Route::Serve(archive)));
    let mut token_url = url::Url::parse(&format!("{}/token", server.base)).unwrap();
    token_url
        .query_pairs_mut()
        .append_pair("service", "fake-registry")
        .append_pair("scope", &format!("repository:{REPO}:pull"));
    let token_path = format!("{}?{}", token_url.path(), token_url.query().unwrap());
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("ftpy:{SECRET}"));
    server.route(
        &token_path,
        Route::Guarded {
            authorization: format!("Basic {basic}"),
            challenge: r#"Basic realm="token""#.into(),
            route: Box::new(Route::Serve(
                format!(r#"{{"token": "{TOKEN}", "expires_in": 300}}"#).into_bytes(),
            )),
        },
    );

    let url = format!("oci+http://{}/{REPO}", server.base.trim_start_matches("http://"));
    let b = Fixture::with_release(V);
    let out = b
        .ftpy()
        .env("FTPY_REMOTE_CACHE_TOKEN", SECRET)
        .args(["install", "--profile", "fast", "--remote-cache", &url, "3.14.6t"])
        .output()
        .unwrap();
    ok(&out);
    assert!(
        stderr_of(&out).contains(&format!("Restored 3.14.6t from the remote cache {url}")),
        "{}",
        both(&out)
    );
    assert!(b.configure_runs().is_empty());
    let tokens = server.hits(&token_path);
    assert_eq!(tokens.len(), 1, "one token, asked for pull only: {:?}", server.all_hits());
    assert_eq!(tokens[0].authorization.as_deref(), Some(format!("Basic {basic}").as_str()));
    let blob = server.hits(&format!("/v2/{REPO}/blobs/{digest}"));
    assert_eq!(blob.last().unwrap().authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
    for secret in [SECRET, TOKEN, basic.as_str()] {
        assert!(!both(&out).contains(secret), "{secret} shown");
        assert!(files_naming(b.home.path(), secret).is_empty(), "{secret} stored");
    }
}
