//! Hostile and odd source archives through `ftpy install`: what is refused, what the user sees,
//! and that nothing is left behind.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

const V: &str = "3.13.5";

/// Rebuild a `.tar.xz` with `change(path, header)` applied to every entry's header.
fn rewrite(tarball: &[u8], change: impl Fn(&str, &mut tar::Header)) -> Vec<u8> {
    let mut plain = Vec::new();
    xz2::read::XzDecoder::new(tarball).read_to_end(&mut plain).unwrap();
    let mut archive = tar::Archive::new(plain.as_slice());
    let mut builder = tar::Builder::new(Vec::new());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut header = entry.header().clone();
        change(&path, &mut header);
        header.set_cksum();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        builder.append(&header, data.as_slice()).unwrap();
    }
    xz(&builder.into_inner().unwrap())
}

fn xz(plain: &[u8]) -> Vec<u8> {
    let mut encoder = xz2::write::XzEncoder::new(Vec::new(), 1);
    encoder.write_all(plain).unwrap();
    encoder.finish().unwrap()
}

fn install_refused(fx: &Fixture) -> String {
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(fx.versions().is_empty(), "{stderr}");
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
    assert!(fx.configure_runs().is_empty(), "nothing was built");
    stderr
}

#[test]
fn dangling_symlink_chain_out_of_the_tree_is_refused() {
    use TarEntry::*;
    let fx = Fixture::new();
    // `up` leads back to the top directory, so `esc` climbs out of the staging directory; its
    // target does not exist, and the check used to skip links whose target did not exist.
    fx.publish(
        V,
        tar_xz(&[
            Dir("Python-3.13.5/"),
            Dir("Python-3.13.5/deep/down/"),
            Symlink("Python-3.13.5/deep/down/up", "../.."),
            Symlink("Python-3.13.5/esc", "deep/down/up/../../../elsewhere"),
        ]),
    );
    let stderr = install_refused(&fx);
    assert!(
        stderr.contains("entry `Python-3.13.5/esc` is a symlink that resolves outside the archive"),
        "{stderr}"
    );
}

#[test]
fn archive_too_large_is_refused_before_it_fills_the_disk() {
    let fx = Fixture::new();
    // One header that claims 3 GiB, then a little data: the xz is tiny.
    let mut header = tar::Header::new_gnu();
    header.set_path("Python-3.13.5/huge").unwrap();
    header.set_size(3 << 30);
    header.set_mode(0o644);
    header.set_cksum();
    let mut plain = header.as_bytes().to_vec();
    plain.extend(vec![0u8; 1 << 20]);
    fx.publish(V, xz(&plain));
    let stderr = install_refused(&fx);
    assert!(
        stderr.contains("archive too large: more than 2 GiB unpacked (at `Python-3.13.5/huge`)"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: nothing was installed"), "{stderr}");
}

#[test]
fn entry_names_with_escape_sequences_are_shown_escaped() {
    use TarEntry::*;
    let fx = Fixture::new();
    let name = "Python-3.13.5/\x1b[2J\x1b]0;owned\x07\nerror: fake/../../x";
    fx.publish(V, tar_xz(&[Dir("Python-3.13.5/"), File(name, b"x", 0o644)]));
    let stderr = install_refused(&fx);
    assert!(!stderr.contains('\x1b') && !stderr.contains('\x07'), "{stderr:?}");
    assert!(!stderr.lines().any(|l| l.starts_with("error: fake")), "{stderr}");
    assert!(stderr.contains(r"Python-3.13.5/\x1b[2J\x1b]0;owned\x07\nerror: fake/../../x"), "{stderr}");
}

/// As a user who is not root, a directory of mode 0555 in the archive could not be written
/// into, nor the staging directory removed afterwards. Run as `nobody` when the tests run as
/// root (they do in CI containers); a user who is not root runs it as themselves.
#[test]
fn read_only_directories_in_the_archive_unpack_and_leave_nothing_as_non_root() {
    let fx = Fixture::new();
    let tarball = rewrite(&fake_source(V), |path, header| {
        if header.entry_type().is_dir() || path == "Python-3.13.5/README.rst" {
            header.set_mode(if header.entry_type().is_dir() { 0o555 } else { 0o6777 });
        }
    });
    fx.publish(V, tarball);
    let as_root = unsafe { libc::geteuid() } == 0;
    let ftpy = assert_cmd::cargo::cargo_bin("ftpy");
    let mut cmd = if as_root {
        let works = std::process::Command::new("runuser").args(["-u", "nobody", "--", "true"]).status();
        assert!(
            works.is_ok_and(|s| s.success()),
            "runuser -u nobody is needed to test as a user who is not root"
        );
        for dir in [fx.home.path(), fx.record.path(), fx.recipes.path()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let mut cmd = fx.command("runuser");
        cmd.args(["-u", "nobody", "--"]).arg(&ftpy);
        cmd
    } else {
        fx.command(&ftpy)
    };
    let out = cmd.args(["install", "--profile", "fast", "--no-system-check", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
    assert!(Path::new(&fx.path("versions/3.13.5t/bin/python3.13t")).exists());
}
