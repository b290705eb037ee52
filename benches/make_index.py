"""Generate a local index of N projects for the wheels benchmark, and a requirements file.

    python3 benches/make_index.py ROOT N REQUIREMENTS_FILE

Projects cycle through what real indexes hold for a free-threaded 3.13 target: cp313t wheels
(with cp313 and abi3 ones beside them), pure wheels, abi3 wheels with an sdist, and sdists only.
Every wheel is a valid (empty) wheel with METADATA, also served as PEP 658 .metadata.
"""

import hashlib
import html
import io
import json
import os
import sys
import tarfile
import zipfile

root, count, requirements = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PLAT = "manylinux_2_17_x86_64.manylinux2014_x86_64"


def metadata(name, version):
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"


def wheel(name, version, tag):
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{info}/METADATA", metadata(name, version))
        z.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: {tag}\n")
        z.writestr(f"{info}/RECORD", f"{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")
    return f"{dist}-{version}-{tag}.whl", buf.getvalue()


def sdist(name, version):
    base = f"{name.replace('-', '_')}-{version}"
    data = metadata(name, version).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return f"{base}.tar.gz", buf.getvalue()


os.makedirs(os.path.join(root, "files"), exist_ok=True)
names = []
for i in range(count):
    name = f"bench-pkg-{i:03d}"
    names.append(name)
    kind = i % 4
    files = []
    for version in ("1.0", "1.1", "2.0"):
        if kind == 0:
            files += [wheel(name, version, f"cp313-cp313t-{PLAT}"), wheel(name, version, f"cp313-cp313-{PLAT}"),
                      wheel(name, version, f"cp39-abi3-{PLAT}"), sdist(name, version)]
        elif kind == 1:
            files += [wheel(name, version, "py3-none-any"), sdist(name, version)]
        elif kind == 2:
            files += [wheel(name, version, f"cp39-abi3-{PLAT}"), sdist(name, version)]
        else:
            files += [sdist(name, version)]
    project = os.path.join(root, "simple", name)
    os.makedirs(project, exist_ok=True)
    entries, anchors = [], []
    for filename, data in files:
        with open(os.path.join(root, "files", filename), "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).hexdigest()
        entry = {"filename": filename, "url": f"../../files/{filename}", "hashes": {"sha256": digest}}
        attrs = ""
        if filename.endswith(".whl"):
            meta = metadata(name, filename.split("-")[1]).encode()
            with open(os.path.join(root, "files", filename + ".metadata"), "wb") as f:
                f.write(meta)
            meta_digest = hashlib.sha256(meta).hexdigest()
            entry["core-metadata"] = {"sha256": meta_digest}
            attrs = f' data-core-metadata="sha256={meta_digest}"'
        entries.append(entry)
        anchors.append(f'<a href="../../files/{html.escape(filename)}#sha256={digest}"{attrs}>{html.escape(filename)}</a><br/>')
    with open(os.path.join(project, "index.json"), "w") as f:
        json.dump({"meta": {"api-version": "1.1"}, "name": name, "files": entries}, f)
    with open(os.path.join(project, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><html><body>\n" + "\n".join(anchors) + "\n</body></html>\n")
with open(requirements, "w") as f:
    f.write("\n".join(names) + "\n")
