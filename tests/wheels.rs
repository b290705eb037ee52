//! `ftpy wheels check` against a local index: every status, markers, extras, yanked files,
//! Requires-Python, a transitive dependency, the HTML fallback, the brief cache, --json and
//! --strict. The target is 3.13t from the recipes (not installed), on this machine's platform.

mod common;

use std::fs;
use std::process::Output;

use common::index::{IndexFixture, every_status_index as index};
use common::*;

const REQUIREMENTS: &str = "\
ftwheel[fast]>=1.0
abionly
sdistonly
newbroken[bogus]
py314only
pinned==3.0
nosuchpkg
skipped; python_version < \"3.10\"
./local/project
";

fn check(fixture: &Fixture, index: &IndexFixture, dir: &std::path::Path, extra: &[&str]) -> Output {
    let mut args = vec!["wheels", "check", "-r", "requirements.txt", "--python", "3.13t"];
    args.extend(extra);
    fixture
        .ftpy()
        .current_dir(dir)
        .env("PIP_INDEX_URL", &index.url)
        .env_remove("PIP_EXTRA_INDEX_URL")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .args(&args)
        .output()
        .unwrap()
}

fn project_dir() -> tempfile::TempDir {
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), REQUIREMENTS).unwrap();
    dir
}

fn row<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {report:#}"))
}

#[test]
fn every_status_as_json() {
    let fixture = Fixture::new();
    let index = index();
    let dir = project_dir();
    let out = check(&fixture, &index, dir.path(), &["--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(report["target"]["abi"], "cp313t");
    assert_eq!(report["index"]["urls"][0], index.url.as_str());
    assert_eq!(report["index"]["source"], "PIP_INDEX_URL");

    let ft = row(&report, "ftwheel");
    assert_eq!((ft["verdict"].as_str(), ft["version"].as_str()), (Some("target-wheel"), Some("2.0")));
    assert_eq!(ft["free_threading"], "3 - Stable");
    assert_eq!(ft["direct"], true);

    // Transitive, from the HTML page, the yanked 1.1 passed over; metadata read from the wheel.
    let pure = row(&report, "puredep");
    assert_eq!((pure["verdict"].as_str(), pure["version"].as_str()), (Some("pure-wheel"), Some("1.0")));
    assert_eq!(pure["direct"], false);
    assert_eq!(pure["required_by"][0], "ftwheel 2.0");
    // The extra pulled extrapkg in; the false marker kept gilonly out.
    assert_eq!(row(&report, "extrapkg")["verdict"], "pure-wheel");
    let names: Vec<&str> =
        report["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"gilonly") && !names.contains(&"skipped"), "{names:?}");

    let abi = row(&report, "abionly");
    assert_eq!(abi["verdict"], "will-not-load");
    assert_eq!(abi["wheel_mismatches"], serde_json::json!(["abi3", "gil-abi"]));
    assert_eq!(abi["prefer_binary"], serde_json::Value::Null);

    let sdist = row(&report, "sdistonly");
    assert_eq!((sdist["verdict"].as_str(), sdist["version"].as_str()), (Some("must-build"), Some("1.0")));
    assert_eq!(sdist["prefer_binary"], "0.9");
    assert_eq!(sdist["wheel_mismatches"], serde_json::json!(["gil-abi"]));

    let newbroken = row(&report, "newbroken");
    assert_eq!(
        (newbroken["verdict"].as_str(), newbroken["version"].as_str()),
        (Some("pure-wheel"), Some("1.5"))
    );
    assert_eq!(newbroken["newest"], "2.0");
    assert_eq!(newbroken["notes"][0], "has no extra `bogus`");

    assert_eq!(row(&report, "py314only")["version"], "0.5");
    let pinned = row(&report, "pinned");
    assert_eq!(pinned["verdict"], "not-found");
    assert!(pinned["notes"][0].as_str().unwrap().contains("no release matches"), "{pinned}");
    let missing = row(&report, "nosuchpkg");
    assert_eq!(missing["verdict"], "not-found");
    assert_eq!(missing["notes"][0], "no such project on the index");
    assert_eq!(row(&report, "./local/project")["verdict"], "direct-reference");

    // 9 index packages: ftwheel, puredep, extrapkg, newbroken, py314only are ready.
    assert_eq!(report["summary"]["total"], 9);
    assert_eq!(report["summary"]["ready"], 5);
    assert_eq!(report["summary"]["must_build"], 1);
    assert_eq!(report["summary"]["will_not_load"], 1);
    assert_eq!(report["summary"]["not_found"], 2);
}

#[test]
fn table_summary_strict_and_cache() {
    let fixture = Fixture::new();
    let index = index();
    let dir = project_dir();
    let out = check(&fixture, &index, dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(!text.contains('\x1b'), "no colour without a terminal:\n{text}");
    assert!(
        text.contains(
            "5 of 9 ready for cp313t; 1 must be built (`ftpy wheels build`), 1 will not load, 2 not found"
        ),
        "{text}"
    );
    let line = text.lines().find(|l| l.starts_with("sdistonly")).unwrap();
    assert!(
        line.contains("sdist only: must be built") && line.contains("--prefer-binary would take 0.9"),
        "{line}"
    );
    let line = text.lines().find(|l| l.starts_with("abionly")).unwrap();
    assert!(line.contains("wheels only for abi3, cp313 (GIL ABI)"), "{line}");
    let line = text.lines().find(|l| l.starts_with("puredep")).unwrap();
    assert!(line.contains("via ftwheel 2.0"), "{line}");
    assert_eq!(index.page_hits("ftwheel"), 1);

    // Within a few minutes the pages come from the cache; --strict gates on the verdicts.
    let out = check(&fixture, &index, dir.path(), &["--strict"]);
    assert_eq!(out.status.code(), Some(12), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("4 of 9 requirements have no usable wheel for cp313t"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(index.page_hits("ftwheel"), 1, "the page was fetched again");
    let out = check(&fixture, &index, dir.path(), &["--refresh"]);
    assert!(out.status.success());
    assert_eq!(index.page_hits("ftwheel"), 2);
}

#[test]
fn index_choice_and_errors() {
    let fixture = Fixture::new();
    let index = index();
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "ftwheel\n").unwrap();

    // --index-url wins over PIP_INDEX_URL.
    let out = fixture
        .ftpy()
        .current_dir(dir.path())
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .args(["wheels", "check", "--python", "3.13t", "--json", "--index-url", &index.url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(report["index"]["source"], "--index-url");

    // pip's own configuration file is read when nothing else names an index.
    let conf = dir.path().join("pip.conf");
    fs::write(&conf, format!("[global]\nindex-url = {}\n", index.url)).unwrap();
    let out = fixture
        .ftpy()
        .current_dir(dir.path())
        .env_remove("PIP_INDEX_URL")
        .env("PIP_CONFIG_FILE", &conf)
        .args(["wheels", "check", "--python", "3.13t", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(report["index"]["source"], "pip configuration");
    assert_eq!(report["index"]["urls"][0], index.url.as_str());

    // A GIL target accepts the GIL wheel of abionly.
    fs::write(dir.path().join("requirements.txt"), "abionly\n").unwrap();
    let out = fixture
        .ftpy()
        .current_dir(dir.path())
        .env("PIP_INDEX_URL", &index.url)
        .args(["wheels", "check", "--python", "3.13", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(row(&report, "abionly")["verdict"], "target-wheel");

    // An unreachable index is a network error (4); a bad requirement is bad input (2).
    let out = fixture
        .ftpy()
        .current_dir(dir.path())
        .args(["wheels", "check", "--python", "3.13t", "--index-url", "http://127.0.0.1:9/simple"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("hint: check the index URL"), "{}", stderr_of(&out));
    let out = fixture
        .ftpy()
        .current_dir(dir.path())
        .args(["wheels", "check", "--python", "3.13t", "--index-url", "ftp://host/simple"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("is not a package index URL"), "{}", stderr_of(&out));
    fs::write(dir.path().join("requirements.txt"), "not a valid [requirement\n").unwrap();
    let out = fixture
        .ftpy()
        .current_dir(dir.path())
        .args(["wheels", "check", "--python", "3.13t", "--index-url", &index.url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("requirements.txt:1"), "{}", stderr_of(&out));
}

#[test]
fn a_local_directory_index_through_file_urls() {
    let fixture = Fixture::new();
    let dir = tempfile::TempDir::new().unwrap();
    let root = dir.path().join("index");
    let meta = common::index::metadata("localpkg", "1.0", &[], &[]);
    let (filename, bytes) = common::index::wheel("localpkg", "1.0", "py3-none-any", &meta);
    fs::create_dir_all(root.join("files")).unwrap();
    fs::create_dir_all(root.join("simple/localpkg")).unwrap();
    fs::write(root.join("files").join(&filename), bytes).unwrap();
    fs::write(
        root.join("simple/localpkg/index.html"),
        format!("<html><body><a href=\"../../files/{filename}\">{filename}</a></body></html>"),
    )
    .unwrap();
    fs::write(dir.path().join("requirements.txt"), "localpkg\n").unwrap();
    let url = format!("file://{}/simple", root.display());
    let out = fixture
        .ftpy()
        .current_dir(dir.path())
        .args(["wheels", "check", "--python", "3.13t", "--json", "--index-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(row(&report, "localpkg")["verdict"], "pure-wheel");
    assert_eq!(report["summary"]["ready"], 1);
}

#[test]
fn another_platform_is_checked_with_its_own_tags() {
    let fixture = Fixture::new();
    let index = index();
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "ftwheel\nextrapkg\n").unwrap();
    // ftwheel has only manylinux wheels (and an sdist): on Windows it must be built; the pure
    // wheel is fine anywhere.
    let out = fixture
        .ftpy()
        .current_dir(dir.path())
        .env("PIP_INDEX_URL", &index.url)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .args(["wheels", "check", "--python", "3.13t", "--platform", "win_amd64", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(report["target"]["platforms"], serde_json::json!(["win_amd64"]));
    let ft = row(&report, "ftwheel");
    assert_eq!(ft["verdict"], "must-build");
    assert_eq!(ft["wheel_mismatches"], serde_json::json!(["platform"]));
    assert_eq!(row(&report, "extrapkg")["verdict"], "pure-wheel");
}

/// Every file under `dir`, with its contents.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((path.clone(), fs::read(&path).unwrap_or_default()));
        }
    }
    out
}

#[test]
fn a_remote_index_cannot_make_ftpy_read_local_files() {
    use std::os::unix::fs::PermissionsExt;
    let fixture = Fixture::new();
    let index = index();
    let private = tempfile::TempDir::new().unwrap();
    let secret = private.path().join("secret");
    fs::write(
        &secret,
        "Metadata-Version: 2.1\nName: victim\nRequires-Dist: leaked-name\nX-Marker: s3cr3t-b0dy\n",
    )
    .unwrap();
    let local = format!("file://{}?", secret.display());
    // The JSON page lists the local file (with "metadata"), and also a javascript: and a data: link;
    // the HTML page of another project links the same local file.
    index.raw_json_project(
        "victim",
        vec![
            serde_json::json!({"filename": "victim-1.0-py3-none-any.whl", "url": local,
                "hashes": {}, "core-metadata": true, "data-dist-info-metadata": true}),
            serde_json::json!({"filename": "victim-0.9-py3-none-any.whl", "url": "javascript:alert(1)",
                "hashes": {}, "core-metadata": true}),
            serde_json::json!({"filename": "victim-0.8-py3-none-any.whl",
                "url": "data:text/plain,Requires-Dist: via-data", "hashes": {}}),
        ],
    );
    index.server.route(
        "/simple/victim2/",
        Route::Typed {
            body: format!(
                "<a href=\"{local}\" data-dist-info-metadata=\"true\">victim2-1.0-py3-none-any.whl</a>"
            )
            .into_bytes(),
            content_type: "text/html".into(),
        },
    );
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "victim\nvictim2\nftwheel\n").unwrap();
    let out = check(&fixture, &index, dir.path(), &["--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    for name in ["victim", "victim2"] {
        let victim = row(&report, name);
        assert_eq!(victim["verdict"], "not-found", "{victim}");
        assert_eq!(victim["notes"][0], "the index lists no files for this Python", "{victim}");
    }
    assert_eq!(row(&report, "ftwheel")["verdict"], "target-wheel", "the rest of the check went on");
    let asked: Vec<String> = index.server.all_hits().into_iter().map(|h| h.path).collect();
    assert!(
        !asked.iter().any(|p| p.contains("leaked") || p.contains("via-data")),
        "the local file's dependency was followed: {asked:?}"
    );
    assert!(!stdout_of(&out).contains("leaked") && !stderr_of(&out).contains("leaked"));

    // The cache holds nothing of the file, and what it holds is the user's alone.
    let cache = fixture.home.path().join("cache/index");
    let cached = files_under(&cache);
    assert!(!cached.is_empty(), "the pages were cached");
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache), 0o700);
    for (path, bytes) in &cached {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("s3cr3t-b0dy") && !text.contains("leaked-name"),
            "{} holds the file",
            path.display()
        );
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
}

#[test]
fn a_requirements_tree_that_branches_30_ways_8_deep_is_read_at_once() {
    let fixture = Fixture::new();
    let index = index();
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("sub")).unwrap();
    // Level k names level k+1 thirty times, spelt differently: 30^8 reads if each -r were
    // followed, 9 files read once each.
    for level in 0..8 {
        let next = level + 1;
        let lines: String = (0..30)
            .map(|i| match i % 3 {
                0 => format!("-r level{next}.txt\n"),
                1 => format!("-r ./level{next}.txt\n"),
                _ => format!("--requirement=sub/../level{next}.txt\n"),
            })
            .collect();
        fs::write(d.join(format!("level{level}.txt")), lines).unwrap();
    }
    fs::write(d.join("level8.txt"), "ftwheel\n").unwrap();
    let started = std::time::Instant::now();
    let out = fixture
        .ftpy()
        .current_dir(d)
        .env("PIP_INDEX_URL", &index.url)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .args(["wheels", "check", "-r", "level0.txt", "-r", "level8.txt", "--python", "3.13t", "--json"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(row(&report, "ftwheel")["verdict"], "target-wheel");
    // Generous: it takes well under a second; the unbounded reading took hours.
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());

    // A -r of a device is refused as bad input, naming the chain.
    fs::write(d.join("top.txt"), "ftwheel\n-r zero.txt\n").unwrap();
    fs::write(d.join("zero.txt"), "-r /dev/zero\n").unwrap();
    let out = fixture
        .ftpy()
        .current_dir(d)
        .env("PIP_INDEX_URL", &index.url)
        .args(["wheels", "check", "-r", "top.txt", "--python", "3.13t"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("/dev/zero: not a regular file"), "{err}");
    assert!(
        err.contains("top.txt -> zero.txt -> /dev/zero") || err.contains("zero.txt -> /dev/zero"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn one_lying_metadata_file_fails_only_its_package() {
    let fixture = Fixture::new();
    let index = index();
    let long_name = "a".repeat(100_000);
    let lying = common::index::metadata("liar", "1.0", &[long_name.as_str(), "puredep>=1.0"], &[]);
    let (filename, bytes) = common::index::wheel("liar", "1.0", "py3-none-any", &lying);
    index.json_project("liar", vec![common::index::FixtureFile::new(&filename, bytes).with_metadata(lying)]);
    let invalid = common::index::metadata("badreq", "1.0", &["not a [valid requirement"], &[]);
    let (filename, bytes) = common::index::wheel("badreq", "1.0", "py3-none-any", &invalid);
    index.json_project(
        "badreq",
        vec![common::index::FixtureFile::new(&filename, bytes).with_metadata(invalid)],
    );
    // A page that makes no sense fails its project only.
    index.server.route(
        "/simple/brokenpage/",
        Route::Typed {
            body: b"{\"files\": 7}".to_vec(),
            content_type: "application/vnd.pypi.simple.v1+json".into(),
        },
    );
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "liar\nbadreq\nftwheel\nbrokenpage\n").unwrap();

    let out = check(&fixture, &index, dir.path(), &["--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    let liar = row(&report, "liar");
    assert_eq!(liar["verdict"], "pure-wheel", "{liar}");
    let notes = liar["notes"].to_string();
    assert!(notes.contains("100000 characters"), "{notes}");
    assert!(notes.len() < 2_000, "the finding repeats the lie in full: {} bytes", notes.len());
    // What the lying file declares beside the lie is still followed.
    let puredep = row(&report, "puredep");
    assert!(puredep["required_by"].as_array().unwrap().contains(&"liar 1.0".into()), "{puredep}");
    let badreq = row(&report, "badreq");
    assert!(badreq["notes"].to_string().contains("unreadable dependency"), "{badreq}");
    assert_eq!(row(&report, "ftwheel")["verdict"], "target-wheel");
    let broken = row(&report, "brokenpage");
    assert_eq!(broken["verdict"], "unchecked", "{broken}");
    assert!(broken["notes"][0].as_str().unwrap().contains("returned a page ftpy cannot read"), "{broken}");
    assert_eq!(report["summary"]["unchecked"], 1);
    let names: Vec<&str> =
        report["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.iter().all(|n| n.len() < 100), "a row for the lie itself: {}", names.len());
    assert!(!index.server.all_hits().iter().any(|h| h.path.contains("aaaaaaaa")), "the lie was asked for");

    // The same verdict rules as ever: --strict fails on what is not ready (the unreadable
    // page), not on the lie.
    let out = check(&fixture, &index, dir.path(), &["--strict"]);
    assert_eq!(out.status.code(), Some(12), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(text.lines().all(|l| l.len() < 2_000), "a table line holds the whole lie");
    assert!(text.contains("1 could not be checked"), "{text}");
    fs::write(dir.path().join("requirements.txt"), "liar\nbadreq\nftwheel\n").unwrap();
    let out = check(&fixture, &index, dir.path(), &["--strict"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn control_characters_from_files_and_the_index_are_shown_escaped() {
    let fixture = Fixture::new();
    let index = index();
    // A release whose metadata declares a dependency that is no requirement, with escapes in it.
    let meta = common::index::metadata("shady", "1.0", &["evil\x1b[2J\u{9b}31m ((("], &[]);
    let (filename, bytes) = common::index::wheel("shady", "1.0", "py3-none-any", &meta);
    index.json_project("shady", vec![common::index::FixtureFile::new(&filename, bytes).with_metadata(meta)]);
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "shady\n./local/\x1b[31mred\r\x07\n-f ./w\x1b[1mheels\n")
        .unwrap();
    let out = check(&fixture, &index, dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    for text in [&stdout, &stderr] {
        assert!(!text.contains(['\x1b', '\r', '\x07', '\u{9b}']), "raw control characters:\n{text:?}");
    }
    assert!(stdout.contains("./local/\\x1b[31mred\\r\\x07"), "{stdout}");
    assert!(stdout.contains("unreadable dependency `evil\\x1b[2J\\u{9b}31m (((`"), "{stdout}");
    assert!(stderr.contains("--find-links ./w\\x1b[1mheels"), "{stderr}");

    // In errors too: a requirement that is not one, and a -r file that is not there.
    fs::write(dir.path().join("requirements.txt"), "bad\x1b]0;owned\x07 [\n").unwrap();
    let out = check(&fixture, &index, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(!stderr.contains(['\x1b', '\x07']), "{stderr:?}");
    assert!(stderr.contains("bad\\x1b]0;owned\\x07 ["), "{stderr}");
    fs::write(dir.path().join("requirements.txt"), "-r mi\x1b[8mssing.txt\n").unwrap();
    let out = check(&fixture, &index, dir.path(), &[]);
    let stderr = stderr_of(&out);
    assert!(!stderr.contains('\x1b') && stderr.contains("mi\\x1b[8mssing.txt"), "{stderr:?}");
    // An index error that quotes the page (serde quotes the string it did not expect).
    index.server.route(
        "/simple/garbled/",
        Route::Typed {
            body: serde_json::json!({"files": "\x1b[2J\x1b]0;owned\x07"}).to_string().into_bytes(),
            content_type: "application/vnd.pypi.simple.v1+json".into(),
        },
    );
    fs::write(dir.path().join("requirements.txt"), "garbled\n").unwrap();
    let out = check(&fixture, &index, dir.path(), &[]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains(['\x1b', '\x07']) && stderr.contains("owned"), "{stderr:?}");
}

#[test]
fn a_wheel_wheels_build_made_counts_as_ready() {
    let fixture = Fixture::new();
    let index = index();
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "ftwheel\nsdistonly\n").unwrap();
    let out = check(&fixture, &index, dir.path(), &["--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(row(&report, "sdistonly")["verdict"], "must-build");
    let wheelhouse =
        fixture.home.path().join("wheels").join(format!("{}t", report["target"]["python"].as_str().unwrap()));
    fs::create_dir_all(&wheelhouse).unwrap();
    // A wheel of another release, and one for the GIL build, are no use to cp313t.
    let arch = common::index::arch();
    fs::write(wheelhouse.join(format!("sdistonly-0.8-cp313-cp313t-linux_{arch}.whl")), b"").unwrap();
    fs::write(wheelhouse.join(format!("sdistonly-1.0-cp313-cp313-linux_{arch}.whl")), b"").unwrap();
    let out = check(&fixture, &index, dir.path(), &["--strict"]);
    assert_eq!(out.status.code(), Some(12), "{}", stderr_of(&out));

    let built = format!("sdistonly-1.0-cp313-cp313t-linux_{arch}.whl");
    fs::write(wheelhouse.join(&built), b"").unwrap();
    let out = check(&fixture, &index, dir.path(), &["--strict"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout_of(&out), stderr_of(&out));
    let text = stdout_of(&out);
    let line = text.lines().find(|l| l.starts_with("sdistonly")).unwrap();
    assert!(line.contains("built by ftpy (wheelhouse)") && line.contains(&built), "{line}");
    assert!(text.contains("3 of 3 ready for cp313t"), "{text}");
    let out = check(&fixture, &index, dir.path(), &["--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(row(&report, "sdistonly")["verdict"], "wheelhouse");
    assert_eq!(report["summary"]["ready"], 3);
}

#[test]
fn a_long_version_keeps_the_columns() {
    let fixture = Fixture::new();
    let index = index();
    let long = "1.0.0.post12345.dev67890+local.abcdef";
    let meta = common::index::metadata("longver", long, &[], &[]);
    let (filename, bytes) = common::index::wheel("longver", long, "py3-none-any", &meta);
    index
        .json_project("longver", vec![common::index::FixtureFile::new(&filename, bytes).with_metadata(meta)]);
    let very_long = "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20";
    let meta = common::index::metadata("hugever", very_long, &[], &[]);
    let (filename, bytes) = common::index::wheel("hugever", very_long, "py3-none-any", &meta);
    index
        .json_project("hugever", vec![common::index::FixtureFile::new(&filename, bytes).with_metadata(meta)]);
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "longver\nhugever\nftwheel\n").unwrap();
    let out = check(&fixture, &index, dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    // Every row's status starts where the header's does.
    let header = text.lines().next().unwrap();
    let status_at = header.find("status").unwrap();
    for name in ["longver", "hugever", "ftwheel"] {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{text}"));
        let at = line
            .find("pure-Python wheel")
            .or_else(|| line.find("cp313t wheel"))
            .unwrap_or_else(|| panic!("{text}"));
        assert_eq!(line[..at].chars().count(), status_at, "{name} is out of line:\n{text}");
    }
    assert!(text.contains(long), "a version that fits is shown whole:\n{text}");
    assert!(text.contains("1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.…"), "a longer one is shortened:\n{text}");
    let out = check(&fixture, &index, dir.path(), &["--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(row(&report, "hugever")["version"], very_long, "the JSON has it whole");
}

#[test]
fn the_project_chooses_the_python() {
    let fixture = Fixture::new();
    let index = index();
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "abionly\n").unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["wheels", "check", "-r", "requirements.txt", "--json"];
        args.extend(extra);
        let out = fixture
            .ftpy()
            .current_dir(dir.path())
            .env("PIP_INDEX_URL", &index.url)
            .env("PIP_CONFIG_FILE", "/dev/null")
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
        (report["target"]["abi"].as_str().unwrap().to_string(), stderr_of(&out))
    };
    // .python-version names the series: its free-threaded build, not installed, from the recipes.
    fs::write(dir.path().join(".python-version"), "3.13\n").unwrap();
    let (abi, said) = run(&[]);
    assert_eq!(abi, "cp313t");
    assert!(said.contains("3.13t is not installed: checking for cp313t from the version alone"), "{said}");
    assert!(said.contains(".python-version"), "{said}");
    // --python wins.
    assert_eq!(run(&["--python", "3.14t"]).0, "cp314t");
    // requires-python, when there is no .python-version.
    fs::remove_file(dir.path().join(".python-version")).unwrap();
    fs::write(dir.path().join("pyproject.toml"), "[project]\nname='p'\nrequires-python='>=3.13,<3.14'\n")
        .unwrap();
    let (abi, said) = run(&[]);
    assert_eq!(abi, "cp313t");
    assert!(said.contains("requires-python >=3.13,<3.14"), "{said}");

    // build needs the interpreter itself, and names what to install.
    let out = fixture
        .ftpy()
        .current_dir(dir.path())
        .env("PIP_INDEX_URL", &index.url)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .args(["wheels", "build", "-r", "requirements.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let said = stderr_of(&out);
    assert!(said.contains("Building for 3.13t (from requires-python >=3.13,<3.14)"), "{said}");
    assert!(said.contains("ftpy install 3.13t") && !said.contains("Checking"), "{said}");
}

/// pip as `ftpy wheels build` drives it, with pip 26.1's words: `pip wheel` builds a wheel of
/// anything but `broken`, whose backend refuses the free-threaded build; `pip install` of a
/// wheel that needs `broken` (the scratch install) collects it from the index and fails the
/// same way; FAKE_PIP_INSTALL_FAILS fails every install. Every `pip install` leaves a
/// `pip-install.*` record (the environment's python, the directory, the arguments), and
/// "installs" each wheel of its `--find-links` directory as a `.dist-info` in the environment.
const FAKE_PIP: &str = r#"#!/bin/sh
cmd=$3; shift 3
refuse() {
  cat <<OUT
  Getting requirements to build wheel: started
  Running command Getting requirements to build wheel
  Traceback (most recent call last):
    File "/h/lib/python3.13t/site-packages/pip/_vendor/pyproject_hooks/_in_process/_in_process.py", line 389, in <module>
      main()
  RuntimeError: broken does not support the free-threaded build of CPython 3.13. Upgrade to free-threaded 3.14 or newer
  error: subprocess-exited-with-error

  × Getting requirements to build wheel did not run successfully.
  │ exit code: 1
  ╰─> No available output.

  note: This error originates from a subprocess, and is likely not a problem with pip.
  Getting requirements to build wheel: finished with status 'error'
ERROR: Failed to build 'broken' when getting requirements to build wheel
OUT
  exit 1
}
case "$cmd" in
wheel)
  out= spec=
  while [ $# -gt 0 ]; do
    case "$1" in
      --wheel-dir|--cache-dir|--index-url|--extra-index-url|--no-binary) [ "$1" = --wheel-dir ] && out=$2; shift ;;
      -*) ;;
      *) spec=$1 ;;
    esac
    shift
  done
  name=${spec%%==*} version=${spec#*==}
  echo "Collecting $spec"
  echo "  Downloading $name-$version.tar.gz (1.2 kB)"
  [ "$name" = broken ] && refuse
  if [ "$name" = slow ]; then sleep 2; fi
  mkdir -p "$out"
  : > "$out/$name-$version-cp313-cp313t-linux_$(uname -m).whl"
  echo "Successfully built $name"
  ;;
install)
  printf '%s\n' "${FAKE_PIP_PYTHON:-?}" "$PWD" "$@" > "$(mktemp "$FTPY_TEST_RECORD/pip-install.XXXXXX")"
  [ -n "$FAKE_PIP_INSTALL_FAILS" ] && { echo "ERROR: No matching distribution found for gone"; exit 1; }
  links=
  for arg in "$@"; do
    [ "$links" = next ] && links=$arg
    [ "$arg" = --find-links ] && links=next
  done
  if [ -n "$links" ] && [ -n "$FAKE_PIP_PYTHON" ]; then
    site="$(dirname "$FAKE_PIP_PYTHON")/../lib/python3.13t/site-packages"
    for wheel in "$links"/*.whl; do
      [ -e "$wheel" ] && mkdir -p "$site/$(basename "$wheel" | cut -d- -f1,2).dist-info"
    done
  fi
  for arg in "$@"; do
    case "$arg" in
      */needsbroken-*) echo "Processing $arg"; echo "Collecting broken (from needsbroken==1.0)"; refuse ;;
    esac
  done
  ;;
esac
"#;

/// An installed 3.13.5t (the fake build) whose interpreter, and every environment made from
/// it, hands `-m pip` to FAKE_PIP.
fn fixture_with_fake_pip() -> Fixture {
    let fixture = Fixture::with_release("3.13.5");
    let out = fixture.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    fake_pip_for_3_13_5t(&fixture);
    fixture
}

/// Make the installed 3.13.5t, and every environment made from it, hand `-m pip` to FAKE_PIP
/// (an environment's python tells it who it is in FAKE_PIP_PYTHON).
fn fake_pip_for_3_13_5t(fixture: &Fixture) {
    let bin = fixture.home.path().join("versions/3.13.5t/bin");
    let pip = fixture.home.path().join("fake-pip");
    fs::write(&pip, FAKE_PIP).unwrap();
    let python = bin.join("python3.13t");
    fs::rename(&python, bin.join("python3.13t.real")).unwrap();
    let pip = pip.display();
    fs::write(
        &python,
        format!(
            r#"#!/bin/sh
if [ "$1" = -m ] && [ "$2" = pip ]; then exec sh {pip} "$@"; fi
if [ "$1" = -m ] && [ "$2" = venv ]; then
  "$0.real" "$@" || exit 1
  mv "$3/bin/python" "$3/bin/python.real"
  printf '#!/bin/sh\nif [ "$1" = -m ] && [ "$2" = pip ]; then FAKE_PIP_PYTHON="$0" exec sh {pip} "$@"; fi\nexec "$0.real" "$@"\n' > "$3/bin/python"
  chmod +x "$3/bin/python"
  exit 0
fi
exec "$0.real" "$@"
"#
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&python, fs::Permissions::from_mode(0o755)).unwrap();
}

fn build(fixture: &Fixture, index: &IndexFixture, dir: &std::path::Path, env: &[(&str, &str)]) -> Output {
    let mut command = fixture.ftpy();
    command.current_dir(dir).env("PIP_INDEX_URL", &index.url).env("PIP_CONFIG_FILE", "/dev/null").args([
        "wheels",
        "build",
        "-r",
        "requirements.txt",
        "--python",
        "3.13t",
    ]);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[test]
fn build_keeps_its_report_when_a_dependency_fails_to_build() {
    let fixture = fixture_with_fake_pip();
    let index = IndexFixture::new();
    index.json_project("needsbroken", vec![common::index::file_sdist("needsbroken", "1.0", &["broken"])]);
    index.json_project("broken", vec![common::index::file_sdist("broken", "2.1.1", &[])]);
    index.json_project("slow", vec![common::index::file_sdist("slow", "1.0", &[])]);
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "needsbroken\nslow\n").unwrap();

    let out = build(&fixture, &index, dir.path(), &[]);
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert_eq!(out.status.code(), Some(13), "{stdout}\n{stderr}");
    let line =
        |name: &str| stdout.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line("broken").contains("FAILED"), "{stdout}");
    assert!(
        line("needsbroken").contains("built") && line("needsbroken").contains("needs broken"),
        "{stdout}"
    );
    assert!(line("slow").contains("built") && line("slow").contains("stays off"), "{stdout}");
    assert!(stderr.contains("1 package could not be built: broken"), "{stderr}");
    // The package's own build log, and what its backend said.
    assert!(stderr.contains("broken: the build log is"), "{stderr}");
    let log = stderr.lines().find(|l| l.contains("broken: the build log is")).unwrap();
    assert!(log.contains("wheel-broken-2.1.1-3.13.5t"), "{log}");
    assert!(!stderr.contains("wheel-verify"), "the scratch install's log: {stderr}");
    assert!(
        stderr.contains(
            "broken: the build said: RuntimeError: broken does not support the free-threaded build"
        ),
        "{stderr}"
    );
    // The real time each package took.
    let took = stderr.split("slow 1.0: built in ").nth(1).unwrap_or_else(|| panic!("{stderr}"));
    let seconds: u64 = took.split('s').next().unwrap().parse().unwrap_or_else(|_| panic!("{stderr}"));
    assert!((2..120).contains(&seconds), "{stderr}");
    assert!(stderr.contains("broken 2.1.1: FAILED in "), "{stderr}");
    assert!(!stderr.contains("(at 0s)"), "{stderr}");

    // A scratch install that fails for another reason keeps the table too.
    fs::write(dir.path().join("requirements.txt"), "slow\n").unwrap();
    let out = build(&fixture, &index, dir.path(), &[("FAKE_PIP_INSTALL_FAILS", "1")]);
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert_eq!(out.status.code(), Some(13), "{stdout}\n{stderr}");
    assert!(
        stdout.lines().any(|l| l.starts_with("slow")
            && l.contains("reused")
            && l.contains("not checked: the scratch install failed")),
        "{stdout}"
    );
    assert!(
        stderr.contains("the scratch install said: ERROR: No matching distribution found for gone"),
        "{stderr}"
    );
    assert!(stderr.contains("gone (a dependency, in the scratch install)"), "{stderr}");
}

/// The pair 3.13.5 and 3.13.5t, the free-threaded build's pip the fake one (the GIL build's
/// environments take any `pip install` and do nothing).
fn pair_with_fake_pip() -> Fixture {
    let fixture = Fixture::with_release("3.13.5");
    let out = fixture.ftpy().args(["install", "--pair", "--profile", "fast", "3.13.5"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    fake_pip_for_3_13_5t(&fixture);
    fixture
}

fn venv(fixture: &Fixture, index: &IndexFixture, dir: &std::path::Path, extra: &[&str]) -> Output {
    fixture
        .ftpy()
        .current_dir(dir)
        .env("PIP_INDEX_URL", &index.url)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .args(["venv", "--python", "3.13.5"])
        .args(extra)
        .output()
        .unwrap()
}

/// The `pip install`s the free-threaded environment of `project` ran: one record each (the
/// directory, then the arguments).
fn ft_env_installs(fixture: &Fixture, project: &std::path::Path) -> Vec<Vec<String>> {
    let python = project.join(".venv-ft/bin/python").display().to_string();
    fixture
        .records("pip-install.")
        .iter()
        .filter(|r| r.lines().next() == Some(python.as_str()))
        .map(|r| r.lines().skip(1).map(str::to_string).collect())
        .collect()
}

#[test]
fn venv_build_wheels_builds_what_the_free_threaded_build_lacks_then_installs_from_it() {
    let fixture = pair_with_fake_pip();
    let index = IndexFixture::new();
    index.json_project("onlysdist", vec![common::index::file_sdist("onlysdist", "1.0", &[])]);
    let dir = tempfile::TempDir::new().unwrap();
    let project = fs::canonicalize(dir.path()).unwrap();
    fs::write(project.join("requirements.txt"), "onlysdist\n").unwrap();

    let out = venv(&fixture, &index, &project, &["--build-wheels"]);
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The build's report, for the free-threaded build of the chosen pair.
    assert!(stderr.contains("Building the wheels 3.13.5t lacks"), "{stderr}");
    let line = stdout.lines().find(|l| l.starts_with("onlysdist")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("built") && line.contains("stays off"), "{line}");
    // The wheel, in the home's wheelhouse for 3.13.5t, and no scratch directory beside it.
    let wheelhouse = fixture.home.path().join("wheels/3.13.5t");
    let wheel = format!("onlysdist-1.0-cp313-cp313t-linux_{}.whl", common::index::arch());
    assert_eq!(list_dir(&wheelhouse), std::slice::from_ref(&wheel), "{stdout}\n{stderr}");
    // Both environments, made and recorded.
    for env in [".venv-gil", ".venv-ft"] {
        assert!(project.join(env).join("ftpy-venv.json").is_file(), "{env}: {stderr}");
        assert!(stdout.lines().any(|l| l.starts_with(env)), "{env}: {stdout}");
    }
    // The free-threaded environment installed the requirements from that wheelhouse, and got
    // the package.
    let installs = ft_env_installs(&fixture, &project);
    assert_eq!(installs.len(), 1, "{installs:?}");
    let args = &installs[0];
    assert_eq!(args[0], project.display().to_string(), "{args:?}");
    let links = args.iter().position(|a| a == "--find-links").unwrap_or_else(|| panic!("{args:?}"));
    assert_eq!(args[links + 1], wheelhouse.display().to_string(), "{args:?}");
    assert!(
        project.join(".venv-ft/lib/python3.13t/site-packages/onlysdist-1.0.dist-info").is_dir(),
        "{args:?}"
    );
}

#[test]
fn venv_build_wheels_that_fail_leave_the_environments_as_they_were() {
    let fixture = pair_with_fake_pip();
    let index = IndexFixture::new();
    index.json_project("broken", vec![common::index::file_sdist("broken", "2.1.1", &[])]);
    let dir = tempfile::TempDir::new().unwrap();
    let project = fs::canonicalize(dir.path()).unwrap();
    fs::write(project.join("requirements.txt"), "broken\n").unwrap();
    // Environments made without building (the fake pip installs anything), and marked.
    let out = venv(&fixture, &index, &project, &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let envs = [".venv-gil", ".venv-ft"];
    for env in envs {
        fs::write(project.join(env).join("marker"), env).unwrap();
    }
    let records: Vec<String> = envs
        .iter()
        .map(|env| fs::read_to_string(project.join(env).join("ftpy-venv.json")).unwrap())
        .collect();
    let before = list_dir(&project);
    let installs = ft_env_installs(&fixture, &project).len();

    let out = venv(&fixture, &index, &project, &["--build-wheels"]);
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert_eq!(out.status.code(), Some(13), "{stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.starts_with("broken")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("FAILED"), "{stdout}");
    assert!(stderr.contains("1 package could not be built: broken"), "{stderr}");
    // Nothing was filled, set aside or left half-made: the old environments are as they were.
    assert_eq!(ft_env_installs(&fixture, &project).len(), installs, "{stderr}");
    assert_eq!(list_dir(&project), before, "{stderr}");
    for (env, record) in envs.iter().zip(&records) {
        assert_eq!(fs::read_to_string(project.join(env).join("marker")).unwrap(), *env);
        assert_eq!(fs::read_to_string(project.join(env).join("ftpy-venv.json")).unwrap(), *record);
    }
    // No wheel of broken, and no scratch directory, in the wheelhouse.
    assert_eq!(list_dir(&fixture.home.path().join("wheels/3.13.5t")), Vec::<String>::new());
}

#[test]
fn a_free_threaded_stable_abi_wheel_is_ready_on_3_15t() {
    let fixture = Fixture::new();
    let index = IndexFixture::new();
    let ml = common::index::manylinux();
    // PEP 803: built for abi3 and abi3t at once, as its authors are asked to.
    index.json_project(
        "stableft",
        vec![
            common::index::file_wheel("stableft", "1.0", &format!("cp315-abi3.abi3t-{ml}"), &[], &[]),
            common::index::file_sdist("stableft", "1.0", &[]),
        ],
    );
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "stableft\n").unwrap();
    let verdict = |python: &str| {
        let out = fixture
            .ftpy()
            .current_dir(dir.path())
            .env("PIP_INDEX_URL", &index.url)
            .env("PIP_CONFIG_FILE", "/dev/null")
            .args(["wheels", "check", "-r", "requirements.txt", "--json", "--python", python])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
        row(&report, "stableft")["verdict"].as_str().unwrap().to_string()
    };
    assert_eq!(verdict("3.15t"), "target-wheel");
    assert_eq!(verdict("3.15"), "target-wheel", "the abi3 half");
    // Its minimum is 3.15: an older interpreter builds it.
    assert_eq!(verdict("3.14t"), "must-build");
}

/// An index URL with white space or control characters (from --index-url, PIP_INDEX_URL or
/// pip.conf) is bad input, shown escaped: it was echoed raw to the terminal in the progress
/// line and every error, where an escape sequence retitles or clears it.
#[test]
fn index_urls_with_control_characters_are_bad_input_shown_escaped() {
    let fx = Fixture::new();
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(dir.path().join("requirements.txt"), "attrs\n").unwrap();
    for (url, shown) in [
        ("http://127.0.0.1:9/\u{1b}]0;TITLE\u{7}\u{1b}[2J", "http://127.0.0.1:9/\\x1b]0;TITLE\\x07\\x1b[2J"),
        ("https://u:pa\tss@127.0.0.1:9/simple", "https://u:****@127.0.0.1:9/simple"),
    ] {
        for from_env in [false, true] {
            let mut cmd = fx.ftpy();
            cmd.current_dir(dir.path()).env("PIP_CONFIG_FILE", "/dev/null");
            cmd.args(["wheels", "check", "--python", "3.13t"]);
            if from_env {
                cmd.env("PIP_INDEX_URL", url);
            } else {
                cmd.args(["--index-url", url]);
            }
            let out = cmd.output().unwrap();
            let stderr = stderr_of(&out);
            assert_eq!(out.status.code(), Some(2), "{url:?}: {stderr}");
            assert!(stderr.contains(&format!("`{shown}` is not a package index URL: ")), "{stderr}");
            assert!(stderr.contains("white space or a control character"), "{stderr}");
            assert!(!stderr.contains('\u{1b}') && !stderr.contains("pa\tss"), "{stderr:?}");
        }
    }
}
