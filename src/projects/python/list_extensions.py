# Run by ftpy inside an environment: list every extension module installed in its
# site-packages, with the distribution that installed it, as JSON on stdout.
import importlib.machinery
import importlib.metadata
import json
import os
import sysconfig

suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
roots = []
for key in ("purelib", "platlib"):
    path = sysconfig.get_path(key)
    if path not in roots and os.path.isdir(path):
        roots.append(path)

owners = {}
for dist in importlib.metadata.distributions(path=roots):
    for file in dist.files or []:
        owners[os.path.normpath(str(dist.locate_file(file)))] = dist.metadata["Name"]

found = []
for root in roots:
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        parts = [] if rel == "." else rel.split(os.sep)
        # Only directories an import statement can reach: no *.dist-info, *.data, __pycache__.
        dirnames[:] = sorted(d for d in dirnames if d.isidentifier() and d != "__pycache__")
        for name in sorted(filenames):
            suffix = next((s for s in suffixes if name.endswith(s)), None)
            if suffix is None:
                continue
            stem = name[: -len(suffix)]
            if not stem.isidentifier():
                continue
            path = os.path.normpath(os.path.join(dirpath, name))
            found.append({
                "module": ".".join(parts + [stem]),
                "path": path,
                "distribution": owners.get(path),
            })
print(json.dumps(found))
