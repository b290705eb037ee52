# Written by ftpy for `ftpy run --stress` into a temporary directory and loaded with
# `-p ftpy_stress_report`; never installed. It records, one JSON object a line, in the file named
# by FTPY_STRESS_REPORT: each test as it starts and each phase's report (so a run that crashes
# still says which test was running), collection errors, the GIL being turned back on, and at
# the end pytest's exit status with what pytest-run-parallel said of each test (the tests it ran
# in one thread, and why). ftpy reads the file; nothing here decides anything.
import json
import os
import re

_PATH = os.environ.get("FTPY_STRESS_REPORT")
_LONGEST = 1000
_GIL = re.compile(r"The global interpreter lock \(GIL\) has been enabled to load module '([^']*)'")


def _write(record):
    if not _PATH:
        return
    # Raw UTF-8, and a lone surrogate (a test's message can hold one) written as "?": its
    # `\udXXX` escape is JSON that strict readers refuse, which would lose the whole line.
    with open(_PATH, "a", encoding="utf-8", errors="replace") as out:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()


def _short(text):
    text = str(text or "")
    return text[:_LONGEST]


def _message(report):
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return _short(longrepr[2])  # a skip: (path, line, reason)
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return _short(crash.message)
    return _short(str(longrepr).strip().splitlines()[-1] if str(longrepr).strip() else "")


def pytest_runtest_logstart(nodeid, location):
    _write({"event": "start", "id": nodeid})


def pytest_runtest_logreport(report):
    _write(
        {
            "event": "report",
            "id": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail"),
            "message": _message(report) if report.outcome != "passed" else "",
        }
    )


def pytest_collectreport(report):
    if report.outcome == "failed":
        _write({"event": "collect_error", "id": report.nodeid, "message": _message(report)})


def pytest_warning_recorded(warning_message, when, nodeid, location):
    found = _GIL.search(str(warning_message.message))
    if found:
        _write({"event": "gil_enabled", "module": found.group(1)})


def pytest_sessionfinish(session, exitstatus):
    plugin = session.config.pluginmanager.get_plugin("_run-parallel")
    unsafe = getattr(plugin, "thread_unsafe", None) or {}
    parallel = getattr(plugin, "run_in_parallel", None) or {}
    _write(
        {
            "event": "finish",
            "exitstatus": int(exitstatus),
            "plugin_loaded": plugin is not None,
            "thread_unsafe": {str(k): _short(v) for k, v in unsafe.items()},
            "in_parallel": len(parallel),
        }
    )
