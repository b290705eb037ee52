//! Downloads a hostile or broken world can throw at `ftpy install`: bodies that never end,
//! sizes that lie, `file://` sources that are not files, a server that trickles, a full disk,
//! and source or index addresses that carry a password.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const V: &str = "3.13.5";
/// Long enough for any of these to finish when it works; a hang fails the test instead.
const BOUND: Duration = Duration::from_secs(90);

/// A recipe for `V` whose source is `url`, with the digest of the fake source (which replaces
/// the published one, as ftpy requires an override to say).
fn recipe_with_url(fx: &Fixture, url: &str) {
    let digest = sha256_hex(&fake_source(V));
    let published = builtin_digest(V).expect("3.13.5 is in the built-in recipes");
    fs::write(
        fx.recipes.path().join(format!("{V}.toml")),
        format!(
            "series = \"3.13\"\n[[release]]\nversion = \"{V}\"\nurl = \"{url}\"\nsha256 = \"{digest}\"\nreplaces_sha256 = \"{published}\"\n"
        ),
    )
    .unwrap();
}

fn partials(fx: &Fixture) -> Vec<String> {
    list_dir(&fx.path("cache/sources")).into_iter().filter(|n| n.ends_with(".partial")).collect()
}

#[test]
fn a_body_larger_than_the_cap_is_stopped_and_its_partial_removed() {
    let fx = Fixture::new();
    fx.add_recipe(V, &sha256_hex(&fake_source(V)));
    // No Content-Length: only counting what arrives can stop it.
    fx.server.route(&Fixture::mirror_path(V), Route::Zeros { len: 8 << 20, content_length: None });
    let out = fx
        .ftpy()
        .env("FTPY_MAX_DOWNLOAD_MIB", "1")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .timeout(BOUND)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("the download exceeded 1 MiB"), "{stderr}");
    assert!(stderr.contains("hint: a CPython source archive is 20 to 30 MB"), "{stderr}");
    assert!(stderr.contains("FTPY_MAX_DOWNLOAD_MIB"), "{stderr}");
    assert!(!stderr.contains("check the network"), "{stderr}");
    assert!(partials(&fx).is_empty(), "{:?}", partials(&fx));
    // Too large is a verdict on the source, not a network hiccup: it is not asked again.
    assert_eq!(fx.server.hits(&Fixture::mirror_path(V)).len(), 1);
    assert!(fx.versions().is_empty());
}

#[test]
fn a_content_length_above_the_cap_is_refused_before_reading() {
    let fx = Fixture::new();
    fx.add_recipe(V, &sha256_hex(&fake_source(V)));
    // The default cap (512 MiB); the server claims a terabyte and sends a little.
    fx.server.route(&Fixture::mirror_path(V), Route::Zeros { len: 64 << 10, content_length: Some(1 << 40) });
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).timeout(BOUND).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("the source announced 1024.0 GiB, more than the 512 MiB"), "{stderr}");
    assert!(stderr.contains("refused before reading"), "{stderr}");
    assert!(partials(&fx).is_empty(), "{:?}", partials(&fx));
    assert_eq!(fx.server.hits(&Fixture::mirror_path(V)).len(), 1);
}

#[test]
fn file_sources_that_are_not_regular_files_are_refused_at_once() {
    let fx = Fixture::new();
    let dir = tempfile::TempDir::new().unwrap();
    let fifo = dir.path().join("source.fifo");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let cases = [
        (Path::new("/dev/zero").to_path_buf(), "not a regular file (a character device)"),
        (fifo, "not a regular file (a FIFO)"),
        (dir.path().to_path_buf(), "not a regular file (a directory)"),
    ];
    for (path, expected) in cases {
        recipe_with_url(&fx, &format!("file://{}", path.display()));
        let started = Instant::now();
        let out = fx
            .ftpy()
            .env_remove("FTPY_MIRROR")
            .args(["install", "--profile", "fast", "3.13.5t"])
            .timeout(BOUND)
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(4), "{}: {stderr}", path.display());
        assert!(stderr.contains(expected), "{stderr}");
        assert!(stderr.contains("hint: a file:// source must name a regular file"), "{stderr}");
        assert!(partials(&fx).is_empty(), "{:?}", partials(&fx));
        // Refused, not retried with pauses (a generous bound; retries would take seconds).
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    }
}

#[test]
fn a_trickling_server_is_given_up_by_its_rate() {
    let fx = Fixture::new();
    let tarball = fake_source(V);
    fx.add_recipe(V, &sha256_hex(&tarball));
    fx.server
        .route(&Fixture::mirror_path(V), Route::Trickle { body: tarball, every: Duration::from_millis(250) });
    let out = fx
        .ftpy()
        .env("FTPY_DOWNLOAD_SPEED_TIME", "1")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .timeout(BOUND)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("the transfer stalled:"), "{stderr}");
    assert!(stderr.contains("under the minimum of 1024 bytes/s"), "{stderr}");
    // Slow may be a bad moment: retried like a network error, every round.
    assert_eq!(fx.server.hits(&Fixture::mirror_path(V)).len(), 4);
    assert!(fx.versions().is_empty());
}

#[test]
fn a_full_disk_is_a_local_error_and_keeps_no_partial() {
    let fx = Fixture::new();
    let tarball = fake_source(V);
    let digest = sha256_hex(&tarball);
    fx.publish(V, tarball);
    // The download lands on /dev/full, which answers every write with ENOSPC.
    let sources = fx.path("cache/sources");
    fs::create_dir_all(&sources).unwrap();
    let partial = sources.join(format!("{digest}.partial"));
    std::os::unix::fs::symlink("/dev/full", &partial).unwrap();
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).timeout(BOUND).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write to the source cache"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains(&format!("hint: the disk holding {} is full", sources.display())), "{stderr}");
    assert!(!stderr.contains("check the network"), "{stderr}");
    assert!(fs::symlink_metadata(&partial).is_err(), "the .partial was left behind");
    // A full disk is no reason to ask again.
    assert_eq!(fx.server.hits(&Fixture::mirror_path(V)).len(), 1);

    // With room again, the same command works.
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
}

/// Every file under `dir`, read as text where it is text.
fn all_text_under(dir: &Path) -> String {
    let mut text = String::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            text.push_str(&all_text_under(&path));
        } else if let Ok(bytes) = fs::read(&path) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}

#[test]
fn credentials_in_mirrors_are_sent_but_never_shown_or_stored() {
    let fx = Fixture::new();
    fx.publish(V, fake_source(V));
    let empty = TestServer::start();
    let with = |base: &str, userinfo: &str| base.replacen("http://", &format!("http://{userinfo}@"), 1);
    let mirrors = format!("{},{}", with(&empty.base, "bob:t0ps3cret"), with(&fx.server.base, "alice:s3cr3t"));

    let dry = fx
        .ftpy()
        .env("FTPY_MIRROR", &mirrors)
        .args(["install", "--dry-run", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert!(dry.status.success(), "{}", stderr_of(&dry));
    let dry_text = format!("{}{}", stdout_of(&dry), stderr_of(&dry));
    assert!(dry_text.contains(&with(&fx.server.base, "alice:****")), "{dry_text}");

    let out = fx
        .ftpy()
        .env("FTPY_MIRROR", &mirrors)
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let shown = format!("{}{}", stdout_of(&out), stderr_of(&out));
    // The first mirror's 404 is warned about, masked.
    assert!(shown.contains(&with(&empty.base, "bob:****")), "{shown}");
    // The download authenticated.
    let hits = fx.server.hits(&Fixture::mirror_path(V));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].authorization.as_deref(), Some("Basic YWxpY2U6czNjcjN0"), "alice:s3cr3t");
    let receipt: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(fx.path("versions/3.13.5t/ftpy-receipt.json")).unwrap())
            .unwrap();
    let recorded = receipt["source_url"].as_str().unwrap();
    assert!(recorded.contains(&with(&fx.server.base, "alice:****")), "{recorded}");

    // An error that lists the sources masks them too (the cached source would spare the fetch).
    fs::remove_dir_all(fx.path("cache/sources")).unwrap();
    let out = fx
        .ftpy()
        .env("FTPY_MIRROR", with(&empty.base, "bob:t0ps3cret"))
        .args(["install", "--profile", "fast", "3.13.5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let failed = stderr_of(&out);
    assert!(failed.contains(&with(&empty.base, "bob:****")), "{failed}");

    let stored = all_text_under(fx.home.path());
    for secret in ["s3cr3t", "t0ps3cret"] {
        for (what, text) in
            [("--dry-run", &dry_text), ("install", &shown), ("error", &failed), ("home", &stored)]
        {
            assert!(!text.contains(secret), "{what} shows {secret}: {text}");
        }
    }
}

#[test]
fn credentials_in_a_recipe_url_are_never_shown() {
    let fx = Fixture::new();
    let url = format!("{}{}", fx.server.base, Fixture::mirror_path(V)).replacen(
        "http://",
        "http://carol:hunter2@",
        1,
    );
    recipe_with_url(&fx, &url);
    let dry = fx.ftpy().env_remove("FTPY_MIRROR").args(["install", "--dry-run", "3.13.5t"]).output().unwrap();
    assert!(dry.status.success(), "{}", stderr_of(&dry));
    assert!(stdout_of(&dry).contains("http://carol:****@"), "{}", stdout_of(&dry));
    // Not found: the warning and the error name the source.
    let out = fx.ftpy().env_remove("FTPY_MIRROR").args(["install", "3.13.5t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("http://carol:****@"), "{}", stderr_of(&out));
    // A recipe with an address ftpy cannot fetch is refused, masked.
    recipe_with_url(&fx, "ftp://carol:hunter2@host/Python-3.13.5.tar.xz");
    let bad = fx.ftpy().env_remove("FTPY_MIRROR").args(["install", "3.13.5t"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr_of(&bad));
    assert!(stderr_of(&bad).contains("ftp://carol:****@host"), "{}", stderr_of(&bad));
    for out in [&dry, &out, &bad] {
        let text = format!("{}{}", stdout_of(out), stderr_of(out));
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[test]
fn an_index_url_that_does_not_parse_is_shown_without_its_password() {
    let fx = Fixture::new();
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "attrs\n").unwrap();
    let out = fx
        .ftpy()
        .current_dir(dir.path())
        .env("PIP_CONFIG_FILE", "/dev/null")
        .args([
            "wheels",
            "check",
            "--python",
            "3.13t",
            "--index-url",
            "https://alice:secret@host:99999/simple",
        ])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("https://alice:****@host:99999/simple"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
}

#[test]
fn bad_mirrors_are_bad_input_that_names_the_value() {
    let fx = Fixture::with_release(V);
    let cases: [(&[&str], Option<&str>, &str); 6] = [
        (&["--mirror", ""], None, "--mirror was given an empty URL"),
        (&[], Some(",,,"), "the mirror list `,,,` (--mirror / FTPY_MIRROR) has an empty entry"),
        (&["--mirror", "file:///"], None, "mirror `file:///` cannot be used: it names no directory"),
        (&["--mirror", "http://"], None, "mirror `http://` cannot be used"),
        (&["--mirror", "file://relative/dir"], None, "a file:// mirror needs an absolute path"),
        (
            &["--mirror", "https://dave:pa55word@host:99999/python"],
            None,
            "mirror `https://dave:****@host:99999/python` cannot be used",
        ),
    ];
    for (args, env, expected) in cases {
        let mut cmd = fx.ftpy();
        match env {
            Some(value) => cmd.env("FTPY_MIRROR", value),
            None => cmd.env_remove("FTPY_MIRROR"),
        };
        let out = cmd.arg("install").args(args).args(["--profile", "fast", "3.13.5t"]).output().unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            stderr.contains("hint: a mirror looks like https://host/python/ or file:///absolute/path"),
            "{stderr}"
        );
        assert!(!stderr.contains("pa55word"), "{stderr}");
    }
    assert!(fx.server.all_hits().is_empty(), "nothing was fetched");
    assert!(fx.versions().is_empty());
    // An empty FTPY_MIRROR is no mirror (CI passes unset variables as ""): python.org.
    let out = fx.ftpy().env("FTPY_MIRROR", "").args(["install", "--dry-run", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains(&format!("source:    {}", fx.server.base)), "{}", stdout_of(&out));
}

/// A mirror with white space or control characters is bad input, and is shown escaped: not
/// echoed raw to the terminal in every retry's warning, nor retried as a network fault.
#[test]
fn mirrors_with_control_characters_are_bad_input_shown_escaped() {
    let fx = Fixture::with_release(V);
    for (mirror, shown) in [
        ("http://127.0.0.1:1/\u{1b}]0;TITLE\u{7}\u{1b}[2J", "http://127.0.0.1:1/\\x1b]0;TITLE\\x07\\x1b[2J"),
        ("http://127.0.0.1:1/a b", "http://127.0.0.1:1/a b"),
        ("https://u:pa\tss@127.0.0.1:1/python", "https://u:****@127.0.0.1:1/python"),
        ("file:///srv/mir\nror", "file:///srv/mir\\nror"),
    ] {
        let out = fx
            .ftpy()
            .env("FTPY_MIRROR", mirror)
            .args(["install", "--profile", "fast", "3.13.5t"])
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{mirror:?}: {stderr}");
        assert!(stderr.contains(&format!("mirror `{shown}` cannot be used: ")), "{mirror:?}: {stderr}");
        assert!(stderr.contains("white space or a control character"), "{stderr}");
        assert!(!stderr.contains('\u{1b}') && !stderr.contains("pa\tss"), "{stderr:?}");
        assert!(!stderr.contains("Retrying"), "{stderr}");
    }
    assert!(fx.server.all_hits().is_empty(), "nothing was fetched");
}
