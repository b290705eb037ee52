//! A local package index for tests: project pages in the PEP 691 JSON form or the PEP 503 HTML
//! form, files with optional PEP 658 `.metadata`, yanked files, `Requires-Python`.

use std::io::Write;

use sha2::{Digest, Sha256};

use super::{Route, TestServer};

pub struct IndexFixture {
    pub server: TestServer,
    /// The simple index root, e.g. `http://127.0.0.1:1234/simple`.
    pub url: String,
}

pub struct FixtureFile {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub requires_python: Option<String>,
    pub yanked: Option<String>,
    /// Served as `<file>.metadata` and announced as core-metadata when set.
    pub metadata: Option<String>,
}

impl FixtureFile {
    pub fn new(filename: &str, bytes: Vec<u8>) -> FixtureFile {
        FixtureFile { filename: filename.into(), bytes, requires_python: None, yanked: None, metadata: None }
    }

    pub fn with_metadata(mut self, metadata: String) -> FixtureFile {
        self.metadata = Some(metadata);
        self
    }

    pub fn requires_python(mut self, spec: &str) -> FixtureFile {
        self.requires_python = Some(spec.into());
        self
    }

    pub fn yanked(mut self, reason: &str) -> FixtureFile {
        self.yanked = Some(reason.into());
        self
    }
}

impl IndexFixture {
    pub fn new() -> IndexFixture {
        let server = TestServer::start();
        let url = format!("{}/simple", server.base);
        IndexFixture { server, url }
    }

    fn serve_files(&self, files: &[FixtureFile]) {
        for f in files {
            self.server.route(&format!("/files/{}", f.filename), Route::Serve(f.bytes.clone()));
            if let Some(meta) = &f.metadata {
                self.server.route(
                    &format!("/files/{}.metadata", f.filename),
                    Route::Serve(meta.clone().into_bytes()),
                );
            }
        }
    }

    /// A project page in the PEP 691 JSON form.
    pub fn json_project(&self, name: &str, files: Vec<FixtureFile>) {
        self.serve_files(&files);
        let entries: Vec<serde_json::Value> = files
            .iter()
            .map(|f| {
                let mut entry = serde_json::json!({
                    "filename": f.filename,
                    "url": format!("../../files/{}", f.filename),
                    "hashes": {"sha256": hex(&f.bytes)},
                    "yanked": f.yanked.clone().map(serde_json::Value::String).unwrap_or(serde_json::Value::Bool(false)),
                });
                if let Some(rp) = &f.requires_python {
                    entry["requires-python"] = rp.clone().into();
                }
                if let Some(meta) = &f.metadata {
                    entry["core-metadata"] = serde_json::json!({"sha256": hex(meta.as_bytes())});
                    entry["data-dist-info-metadata"] = serde_json::json!({"sha256": hex(meta.as_bytes())});
                }
                entry
            })
            .collect();
        let page = serde_json::json!({"meta": {"api-version": "1.1"}, "name": name, "files": entries});
        self.server.route(
            &format!("/simple/{name}/"),
            Route::Typed {
                body: page.to_string().into_bytes(),
                content_type: "application/vnd.pypi.simple.v1+json".into(),
            },
        );
    }

    /// A PEP 691 page whose file entries are given as they are, links and all: for pages that
    /// lie.
    pub fn raw_json_project(&self, name: &str, entries: Vec<serde_json::Value>) {
        let page = serde_json::json!({"meta": {"api-version": "1.1"}, "name": name, "files": entries});
        self.server.route(
            &format!("/simple/{name}/"),
            Route::Typed {
                body: page.to_string().into_bytes(),
                content_type: "application/vnd.pypi.simple.v1+json".into(),
            },
        );
    }

    /// A project page in the PEP 503 HTML form only.
    pub fn html_project(&self, name: &str, files: Vec<FixtureFile>) {
        self.serve_files(&files);
        let mut html = String::from("<!DOCTYPE html><html><body>\n");
        for f in &files {
            let mut attrs = String::new();
            if let Some(rp) = &f.requires_python {
                attrs.push_str(&format!(
                    " data-requires-python=\"{}\"",
                    rp.replace('<', "&lt;").replace('>', "&gt;")
                ));
            }
            if let Some(reason) = &f.yanked {
                attrs.push_str(&format!(" data-yanked=\"{reason}\""));
            }
            if let Some(meta) = &f.metadata {
                attrs.push_str(&format!(" data-core-metadata=\"sha256={}\"", hex(meta.as_bytes())));
            }
            html.push_str(&format!(
                "<a href=\"../../files/{0}#sha256={1}\"{attrs}>{0}</a><br/>\n",
                f.filename,
                hex(&f.bytes)
            ));
        }
        html.push_str("</body></html>\n");
        self.server.route(
            &format!("/simple/{name}/"),
            Route::Typed { body: html.into_bytes(), content_type: "text/html".into() },
        );
    }

    /// How many times a project page was asked for.
    pub fn page_hits(&self, name: &str) -> usize {
        self.server.hits(&format!("/simple/{name}/")).len()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Core metadata text.
pub fn metadata(name: &str, version: &str, requires: &[&str], classifiers: &[&str]) -> String {
    let mut text = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    for r in requires {
        if let Some(extra) = r.split("extra == \"").nth(1).and_then(|rest| rest.split('"').next()) {
            text.push_str(&format!("Provides-Extra: {extra}\n"));
        }
        text.push_str(&format!("Requires-Dist: {r}\n"));
    }
    for c in classifiers {
        text.push_str(&format!("Classifier: {c}\n"));
    }
    text
}

/// A wheel that installs nothing but its metadata.
pub fn wheel(name: &str, version: &str, tag: &str, meta: &str) -> (String, Vec<u8>) {
    let dist = name.replace('-', "_");
    let filename = format!("{dist}-{version}-{tag}.whl");
    let info = format!("{dist}-{version}.dist-info");
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default();
        let wheel = format!("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n");
        for (path, data) in [
            (format!("{info}/METADATA"), meta.to_string()),
            (format!("{info}/WHEEL"), wheel),
            (format!("{info}/RECORD"), format!("{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")),
        ] {
            zip.start_file(path, options).unwrap();
            zip.write_all(data.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
    }
    (filename, buffer.into_inner())
}

/// An sdist holding only `PKG-INFO` (enough for metadata; not buildable).
pub fn sdist(name: &str, version: &str, meta: &str) -> (String, Vec<u8>) {
    let base = format!("{}-{version}", name.replace('-', "_"));
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let mut header = tar::Header::new_gnu();
    header.set_size(meta.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, format!("{base}/PKG-INFO"), meta.as_bytes()).unwrap();
    (format!("{base}.tar.gz"), tar.into_inner().unwrap().finish().unwrap())
}

const FT_CLASSIFIER: &str = "Programming Language :: Python :: Free Threading :: 3 - Stable";

pub fn arch() -> &'static str {
    std::env::consts::ARCH
}

pub fn manylinux() -> String {
    format!("manylinux_2_17_{0}.manylinux2014_{0}", arch())
}

pub fn file_wheel(
    name: &str,
    version: &str,
    tag: &str,
    requires: &[&str],
    classifiers: &[&str],
) -> FixtureFile {
    let meta = metadata(name, version, requires, classifiers);
    let (filename, bytes) = wheel(name, version, tag, &meta);
    FixtureFile::new(&filename, bytes).with_metadata(meta)
}

/// A wheel without a `.metadata` file: its METADATA is read from the archive.
pub fn bare_wheel(name: &str, version: &str, tag: &str, requires: &[&str]) -> FixtureFile {
    let (filename, bytes) = wheel(name, version, tag, &metadata(name, version, requires, &[]));
    FixtureFile::new(&filename, bytes)
}

pub fn file_sdist(name: &str, version: &str, requires: &[&str]) -> FixtureFile {
    let (filename, bytes) = sdist(name, version, &metadata(name, version, requires, &[]));
    FixtureFile::new(&filename, bytes)
}

/// The fixture index: one project per status.
/// The fixture index of tests/wheels.rs: one project per status.
/// A free-threaded wheel for `python` (cp313: `cp313-cp313t`), with a transitive dependency, one
/// behind a false marker, one behind an extra; its GIL wheel and its sdist.
pub fn ftwheel_files(python: &str) -> Vec<FixtureFile> {
    let ml = manylinux();
    vec![
        file_wheel(
            "ftwheel",
            "2.0",
            &format!("{python}-{python}t-{ml}"),
            &["puredep>=1.0", "gilonly; python_version < \"3.13\"", "extrapkg; extra == \"fast\""],
            &[FT_CLASSIFIER],
        ),
        file_wheel("ftwheel", "2.0", &format!("{python}-{python}-{ml}"), &[], &[]),
        file_sdist("ftwheel", "2.0", &[]),
    ]
}

pub fn every_status_index() -> IndexFixture {
    let ml = manylinux();
    let index = IndexFixture::new();
    index.json_project("ftwheel", ftwheel_files("cp313"));
    // Only on the HTML page; the newest release is yanked.
    index.html_project(
        "puredep",
        vec![
            bare_wheel("puredep", "1.0", "py3-none-any", &[]),
            bare_wheel("puredep", "1.1", "py3-none-any", &[]).yanked("broken upload"),
        ],
    );
    index.json_project("extrapkg", vec![file_wheel("extrapkg", "0.3", "py3-none-any", &[], &[])]);
    // Only abi3 and GIL-ABI wheels, no sdist: nothing loads.
    index.json_project(
        "abionly",
        vec![
            file_wheel("abionly", "1.0", &format!("cp39-abi3-{ml}"), &[], &[]),
            file_wheel("abionly", "1.0", &format!("cp313-cp313-{ml}"), &[], &[]),
        ],
    );
    // The newest release is an sdist beside a GIL wheel; an older one has a cp313t wheel.
    index.json_project(
        "sdistonly",
        vec![
            file_sdist("sdistonly", "1.0", &[]),
            file_wheel("sdistonly", "1.0", &format!("cp313-cp313-{ml}"), &[], &[]),
            file_wheel("sdistonly", "0.9", &format!("cp313-cp313t-{ml}"), &[], &[]),
        ],
    );
    // The newest release has nothing that loads; pip takes the older pure one.
    index.json_project(
        "newbroken",
        vec![
            file_wheel("newbroken", "2.0", &format!("cp39-abi3-{ml}"), &[], &[]),
            file_wheel("newbroken", "1.5", "py3-none-any", &[], &[]),
        ],
    );
    // Requires-Python keeps the newest release out of reach of 3.13.
    index.json_project(
        "py314only",
        vec![
            file_wheel("py314only", "1.0", "py3-none-any", &[], &[]).requires_python(">=3.14"),
            file_wheel("py314only", "0.5", "py3-none-any", &[], &[]).requires_python(">=3.9"),
        ],
    );
    index.json_project("pinned", vec![file_wheel("pinned", "1.0", "py3-none-any", &[], &[])]);
    index
}
