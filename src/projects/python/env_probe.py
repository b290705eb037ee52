# Run by ftpy inside an environment: what interpreter it is, and what is installed in it.
import importlib.metadata
import json
import sys
import sysconfig

PRE = {"alpha": "a", "beta": "b", "candidate": "rc"}
packages = {}
for dist in importlib.metadata.distributions():
    name = dist.metadata["Name"]
    if name:
        packages.setdefault(name, dist.version)
print(json.dumps({
    "version": ".".join(map(str, sys.version_info[:3])) + PRE.get(sys.version_info.releaselevel, "")
    + ("" if sys.version_info.releaselevel == "final" else str(sys.version_info.serial)),
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gil_enabled": sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True,
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "packages": packages,
}))
