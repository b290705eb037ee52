# Run by ftpy in a fresh free-threaded process with PYTHON_GIL unset: import one module and
# report whether the GIL is still off, and which module's import turned it back on.
import importlib
import json
import sys
import warnings

name = sys.argv[1]
error = None
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        importlib.import_module(name)
    except BaseException as e:  # the report says what failed; the scan goes on
        error = f"{type(e).__name__}: {e}"
messages = [
    str(w.message)
    for w in caught
    if issubclass(w.category, RuntimeWarning) and "global interpreter lock" in str(w.message)
]
enabled = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
print(json.dumps({"gil_enabled": enabled, "warnings": messages, "error": error}))
