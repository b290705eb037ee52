#!/usr/bin/env python3
"""Regenerate ftpy's recipe files (one TOML file per CPython series) from release data.

Each file ``recipes/3.X.toml`` lists every CPython source release of that series from
3.13.0 on, with the URL of its ``Python-<version>.tar.xz`` tarball and the SHA-256 digest
that python.org published for it. ftpy embeds these files; they are data, not code.

Usage (Python 3.9+, standard library only)::

    scripts/update-recipes.py                         # fetch from python.org's downloads API
    scripts/update-recipes.py --from-tsv FILE         # read a TSV: "version<TAB>url<TAB>sha256"
    scripts/update-recipes.py --check [...]           # write nothing; exit 1 if a file would change
    scripts/update-recipes.py --out DIR [...]         # write into DIR (default: recipes/ beside scripts/)

Data sources:

* ``--from-tsv FILE``: a tab-separated file whose first line is exactly
  ``version<TAB>url<TAB>sha256``, then one release per line. Blank lines are ignored.
* default: python.org's downloads API (``/api/v2/downloads/release/`` and
  ``/api/v2/downloads/release_file/``). Only digests that python.org publishes are used: a
  release whose ``.tar.xz`` has no published sha256 is skipped with a warning. This script
  never downloads a tarball and never computes a digest itself.

Every row is validated: the version must look like ``3.X.Y`` optionally followed by
``aN``/``bN``/``rcN`` (series 3.13 and later only; older series are skipped); the sha256
must be 64 hex characters (stored lowercased); the URL must be https and end with
``/<X.Y.Z>/Python-<version>.tar.xz`` (``3.15.0b4`` lives in the ``3.15.0`` directory).
Rows that fail are skipped with a message on stderr.

When a series file already exists, its ``free_threading`` and ``configure_flags`` values
are kept and only the release list is replaced, with two safety rules:

* a release that is in the file but not in the source data is kept (a note is printed);
* if the source gives a different sha256 for a version already in the file, nothing is
  written and the script exits 1, naming the version and both digests.

Existing files are read with ``tomllib`` (Python 3.11+); on older Pythons a small parser
that understands the format this script writes is used instead, and anything it does not
understand is an error rather than a silent loss. Keys this script does not know about
are also an error, since rewriting the file would drop them.

Output is deterministic: releases are sorted by version (a < b < rc < final), so running
the script twice on the same data produces identical bytes.

Exit status: 0 on success (or nothing to change under ``--check``); 1 on any error
(unreadable input, network failure, digest conflict, no valid releases) or when
``--check`` finds a file that would change; 2 on bad command-line usage.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

try:  # Python 3.11+
    import tomllib as _tomllib
except ImportError:  # pragma: no cover - exercised only on Python < 3.11
    _tomllib = None

SCRIPT_NAME = "scripts/update-recipes.py"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "recipes"
MIN_MINOR = 13  # first series covered: 3.13
DEFAULT_CONFIGURE_FLAGS = ["--with-ensurepip=install"]
TSV_HEADER = ["version", "url", "sha256"]

API_BASE = "https://www.python.org/api/v2/downloads/"
RELEASES_URL = API_BASE + "release/?is_published=true"
RELEASE_FILES_URL = API_BASE + "release_file/?release={id}"
DEFAULT_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MAX_PAGES = 200
USER_AGENT = "ftpy-update-recipes/1 (+python-urllib)"

VERSION_RE = re.compile(r"3\.(\d+)\.(\d+)((a|b|rc)(\d+))?", re.ASCII)
SHA256_RE = re.compile(r"[0-9a-f]{64}", re.ASCII)
PRE_RANK = {"a": 0, "b": 1, "rc": 2, None: 3}
# Characters never accepted in a URL we write out (whitespace, quotes, backslash, controls).
BAD_URL_CHARS_RE = re.compile(r"[\s\"'\\<>`\x00-\x1f\x7f]")


class UpdateError(Exception):
    """A fatal problem: print the message and exit 1."""


class Release(NamedTuple):
    version: str
    url: str
    sha256: str


class Recipe(NamedTuple):
    series: str
    free_threading: str
    configure_flags: List[str]
    releases: List[Release]


# --------------------------------------------------------------------------------------
# Messages


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def note(msg: str) -> None:
    print(f"note: {msg}", file=sys.stderr)


# --------------------------------------------------------------------------------------
# Versions and validation


class ParsedVersion(NamedTuple):
    minor: int
    patch: int
    pre_kind: Optional[str]
    pre_num: int

    @property
    def series(self) -> str:
        return f"3.{self.minor}"

    @property
    def base(self) -> str:
        """The X.Y.Z part, which is also the download directory."""
        return f"3.{self.minor}.{self.patch}"

    @property
    def sort_key(self) -> Tuple[int, int, int, int]:
        return (self.minor, self.patch, PRE_RANK[self.pre_kind], self.pre_num)


def _canonical_int(text: str) -> bool:
    return text == str(int(text))


def parse_version(version: str) -> ParsedVersion:
    """Parse a CPython version string; raise ValueError if it is not one we accept."""
    m = VERSION_RE.fullmatch(version)
    if not m:
        raise ValueError(f"version {version!r} does not look like 3.X.Y[aN|bN|rcN]")
    minor, patch, _, kind, num = m.groups()
    for part in (minor, patch) + ((num,) if num is not None else ()):
        if not _canonical_int(part):
            raise ValueError(f"version {version!r} has a number with a leading zero")
    return ParsedVersion(int(minor), int(patch), kind, int(num) if num is not None else 0)


def version_sort_key(version: str) -> Tuple[int, int, int, int]:
    return parse_version(version).sort_key


def validate_release(version: str, url: str, sha256: str) -> Release:
    """Check one release; return it normalised (sha256 lowercased) or raise ValueError.

    Series older than 3.13 raise ValueError too; callers that want to skip those quietly
    check the series first.
    """
    version = version.strip()
    url = url.strip()
    sha = sha256.strip().lower()
    pv = parse_version(version)
    if pv.minor < MIN_MINOR:
        raise ValueError(f"version {version} is older than 3.{MIN_MINOR}")
    if not SHA256_RE.fullmatch(sha):
        raise ValueError(f"{version}: sha256 {sha256!r} is not 64 hex characters")
    if BAD_URL_CHARS_RE.search(url):
        raise ValueError(f"{version}: url {url!r} contains characters not allowed in a URL")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError(f"{version}: url {url!r} is not an https URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{version}: url {url!r} must not have a query or fragment")
    tail = f"/{pv.base}/Python-{version}.tar.xz"
    if not parts.path.endswith(tail):
        raise ValueError(f"{version}: url {url!r} does not end with {tail!r}")
    return Release(version, url, sha)


def series_of(version: str) -> str:
    return parse_version(version).series


def default_free_threading(series: str) -> str:
    minor = int(series.split(".")[1])
    return "experimental" if minor <= 13 else "supported"


# --------------------------------------------------------------------------------------
# Source: TSV


def read_tsv(path: Path) -> List[Release]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UpdateError(f"cannot read {path}: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise UpdateError(f"{path} is not UTF-8: {e}") from e
    lines = text.splitlines()
    if not lines:
        raise UpdateError(f"{path} is empty; expected a header line 'version<TAB>url<TAB>sha256'")
    header = [h.strip() for h in lines[0].lstrip("\ufeff").split("\t")]
    if header != TSV_HEADER:
        raise UpdateError(
            f"{path}:1: header is {lines[0]!r}; expected 'version<TAB>url<TAB>sha256'"
        )
    out: List[Release] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            warn(f"{path}:{lineno}: skipped: expected 3 tab-separated fields, got {len(fields)}")
            continue
        version, url, sha = (f.strip() for f in fields)
        try:
            pv = parse_version(version)
        except ValueError as e:
            warn(f"{path}:{lineno}: skipped: {e}")
            continue
        if pv.minor < MIN_MINOR:
            note(f"{path}:{lineno}: skipped {version}: only series 3.{MIN_MINOR} and later")
            continue
        try:
            out.append(validate_release(version, url, sha))
        except ValueError as e:
            warn(f"{path}:{lineno}: skipped: {e}")
    return out


# --------------------------------------------------------------------------------------
# Source: python.org downloads API


def fetch_json(url: str, timeout: float) -> object:
    """GET a URL and decode it as JSON; raise UpdateError with a clear message on failure."""
    req = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": USER_AGENT}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as e:
        raise UpdateError(f"fetching {url} failed: HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise UpdateError(f"cannot reach {url}: {e.reason}") from e
    except (socket.timeout, TimeoutError) as e:
        raise UpdateError(f"fetching {url} timed out after {timeout:g}s") from e
    except (http.client.HTTPException, OSError) as e:
        raise UpdateError(f"fetching {url} failed: {e}") from e
    if len(body) > MAX_RESPONSE_BYTES:
        raise UpdateError(f"response from {url} is larger than {MAX_RESPONSE_BYTES} bytes")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise UpdateError(f"response from {url} is not valid JSON: {e}") from e


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    return pa.scheme == pb.scheme == "https" and pa.netloc == pb.netloc


def fetch_list(url: str, timeout: float) -> List[dict]:
    """Fetch an API listing; accept a plain JSON list or a paginated object.

    Handles both a bare list and the paginated shapes {"results": [...], "next": url} and
    {"objects": [...], "meta": {"next": url}}; follows "next" links on the same host only.
    """
    items: List[object] = []
    seen = set()
    next_url: Optional[str] = url
    pages = 0
    while next_url:
        if next_url in seen:
            raise UpdateError(f"pagination loop at {next_url}")
        seen.add(next_url)
        pages += 1
        if pages > MAX_PAGES:
            raise UpdateError(f"more than {MAX_PAGES} pages from {url}; giving up")
        data = fetch_json(next_url, timeout)
        link: object = None
        if isinstance(data, list):
            items.extend(data)
        elif isinstance(data, dict) and isinstance(data.get("results"), list):
            items.extend(data["results"])
            link = data.get("next")
        elif isinstance(data, dict) and isinstance(data.get("objects"), list):
            items.extend(data["objects"])
            meta = data.get("meta")
            link = meta.get("next") if isinstance(meta, dict) else None
        else:
            raise UpdateError(f"unexpected response shape from {next_url}: {type(data).__name__}")
        if link is None or link == "":
            next_url = None
        elif isinstance(link, str):
            resolved = urllib.parse.urljoin(next_url, link)
            if not _same_origin(resolved, url):
                raise UpdateError(f"refusing to follow pagination link to another host: {resolved}")
            next_url = resolved
        else:
            raise UpdateError(f"unexpected pagination link in {next_url}: {link!r}")
    return [item for item in items if isinstance(item, dict)]


RELEASE_NAME_RE = re.compile(r"Python\s+(3\.\S+)", re.ASCII)
RELEASE_ID_RE = re.compile(r"/release/(\d+)/?$", re.ASCII)


def read_python_org(timeout: float) -> List[Release]:
    releases = fetch_list(RELEASES_URL, timeout)
    if not releases:
        raise UpdateError(f"{RELEASES_URL} listed no releases")
    wanted: Dict[str, str] = {}  # version -> release id
    for rel in releases:
        name = rel.get("name")
        if not isinstance(name, str):
            continue
        m = RELEASE_NAME_RE.fullmatch(name.strip())
        if not m:
            continue  # not a CPython 3 release (e.g. other products listed by the API)
        version = m.group(1)
        try:
            pv = parse_version(version)
        except ValueError as e:
            warn(f"python.org release {name!r} skipped: {e}")
            continue
        if pv.minor < MIN_MINOR:
            continue
        if rel.get("is_published") is False:
            continue
        pre = rel.get("pre_release")
        if isinstance(pre, bool) and pre != (pv.pre_kind is not None):
            warn(f"python.org release {name!r} has pre_release={pre}; using the version as named")
        uri = rel.get("resource_uri")
        m_id = RELEASE_ID_RE.search(uri) if isinstance(uri, str) else None
        if not m_id:
            warn(f"python.org release {name!r} skipped: no usable resource_uri ({uri!r})")
            continue
        if version in wanted and wanted[version] != m_id.group(1):
            warn(f"python.org lists {version} twice (ids {wanted[version]}, {m_id.group(1)}); using the first")
            continue
        wanted[version] = m_id.group(1)

    out: List[Release] = []
    for version in sorted(wanted, key=version_sort_key):
        files = fetch_list(RELEASE_FILES_URL.format(id=wanted[version]), timeout)
        filename = f"Python-{version}.tar.xz"
        candidates = []
        for f in files:
            url = f.get("url")
            if not isinstance(url, str):
                continue
            path = urllib.parse.urlsplit(url.strip()).path
            if path.rsplit("/", 1)[-1] != filename:
                continue
            sha = f.get("sha256_sum")
            candidates.append((url.strip(), sha.strip() if isinstance(sha, str) else ""))
        if not candidates:
            warn(f"{version} skipped: python.org lists no {filename}")
            continue
        if len(set(candidates)) > 1:
            warn(f"{version} skipped: python.org lists {filename} more than once with different data")
            continue
        url, sha = candidates[0]
        if not sha:
            warn(f"{version} skipped: python.org publishes no sha256 for {filename}")
            continue
        try:
            out.append(validate_release(version, url, sha))
        except ValueError as e:
            warn(f"{version} skipped: {e}")
    return out


# --------------------------------------------------------------------------------------
# Reading existing recipe files


_FALLBACK_STR = r'"(?:[^"\\\x00-\x1f]|\\.)*"'
_FALLBACK_KEY_STR_RE = re.compile(r"([A-Za-z0-9_-]+)\s*=\s*(" + _FALLBACK_STR + r")\s*(?:#.*)?")
_FALLBACK_KEY_ARR_RE = re.compile(
    r"([A-Za-z0-9_-]+)\s*=\s*\[\s*((?:" + _FALLBACK_STR + r"\s*,\s*)*(?:" + _FALLBACK_STR + r")?)\s*,?\s*\]\s*(?:#.*)?"
)
_FALLBACK_TABLE_RE = re.compile(r"\[\[\s*release\s*\]\]\s*(?:#.*)?")


def _fallback_toml(text: str, path: Path) -> dict:
    """Parse the subset of TOML this script writes (used only when tomllib is missing)."""

    def unquote(s: str) -> str:
        return json.loads(s)  # TOML basic-string escapes used here are a subset of JSON's

    doc: dict = {}
    current = doc
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if _FALLBACK_TABLE_RE.fullmatch(line):
                current = {}
                doc.setdefault("release", []).append(current)
                continue
            m = _FALLBACK_KEY_STR_RE.fullmatch(line)
            if m:
                key, value = m.group(1), unquote(m.group(2))
            else:
                m = _FALLBACK_KEY_ARR_RE.fullmatch(line)
                if not m:
                    raise ValueError("not understood")
                key = m.group(1)
                value = [unquote(s) for s in re.findall(_FALLBACK_STR, m.group(2))]
        except ValueError as e:
            raise UpdateError(
                f"{path}:{lineno}: cannot parse {raw!r} without tomllib ({e}); "
                "run this script with Python 3.11+"
            ) from e
        if key in current:
            raise UpdateError(f"{path}:{lineno}: duplicate key {key!r}")
        current[key] = value
    return doc


def load_existing(path: Path, series: str) -> Optional[Recipe]:
    """Read an existing series file; None if it does not exist. Errors are fatal."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UpdateError(f"cannot read {path}: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise UpdateError(f"{path} is not UTF-8: {e}") from e
    if _tomllib is not None:
        try:
            doc = _tomllib.loads(text)
        except _tomllib.TOMLDecodeError as e:
            raise UpdateError(f"{path} is not valid TOML: {e}") from e
    else:  # pragma: no cover - Python < 3.11
        doc = _fallback_toml(text, path)

    unknown = sorted(set(doc) - {"series", "free_threading", "configure_flags", "release"})
    if unknown:
        raise UpdateError(
            f"{path} has keys this script cannot preserve: {', '.join(unknown)}; "
            "update the script before regenerating"
        )
    if "series" in doc and doc["series"] != series:
        raise UpdateError(f"{path} says series = {doc['series']!r}, expected {series!r}")

    ft = doc.get("free_threading", default_free_threading(series))
    if not isinstance(ft, str) or not ft:
        raise UpdateError(f"{path}: free_threading must be a non-empty string, got {ft!r}")
    flags = doc.get("configure_flags", list(DEFAULT_CONFIGURE_FLAGS))
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise UpdateError(f"{path}: configure_flags must be a list of strings, got {flags!r}")

    entries = doc.get("release", [])
    if not isinstance(entries, list):
        raise UpdateError(f"{path}: 'release' must be an array of tables ([[release]])")
    releases: List[Release] = []
    seen = set()
    for i, entry in enumerate(entries, start=1):
        where = f"{path}: release #{i}"
        if not isinstance(entry, dict):
            raise UpdateError(f"{where} is not a table")
        extra = sorted(set(entry) - {"version", "url", "sha256"})
        if extra:
            raise UpdateError(
                f"{where} has keys this script cannot preserve: {', '.join(extra)}; "
                "update the script before regenerating"
            )
        values = [entry.get(k) for k in ("version", "url", "sha256")]
        if not all(isinstance(v, str) for v in values):
            raise UpdateError(f"{where} needs string version, url and sha256")
        try:
            rel = validate_release(*values)
        except ValueError as e:
            raise UpdateError(f"{where} is invalid: {e}") from e
        if series_of(rel.version) != series:
            raise UpdateError(f"{where}: {rel.version} does not belong to series {series}")
        if rel.version in seen:
            raise UpdateError(f"{path}: {rel.version} is listed more than once")
        seen.add(rel.version)
        releases.append(rel)
    return Recipe(series, ft, list(flags), releases)


# --------------------------------------------------------------------------------------
# Merging and rendering


def toml_string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render(recipe: Recipe) -> str:
    lines = [
        f"# CPython {recipe.series} source releases, generated by {SCRIPT_NAME}; do not edit by hand.",
        "# To add or override releases without rebuilding ftpy, put files of this form in $FTPY_RECIPES.",
        f"series = {toml_string(recipe.series)}",
        f"free_threading = {toml_string(recipe.free_threading)}",
        "configure_flags = [" + ", ".join(toml_string(f) for f in recipe.configure_flags) + "]",
    ]
    for rel in recipe.releases:
        lines += [
            "",
            "[[release]]",
            f"version = {toml_string(rel.version)}",
            f"url = {toml_string(rel.url)}",
            f"sha256 = {toml_string(rel.sha256)}",
        ]
    return "\n".join(lines) + "\n"


def group_by_series(releases: Iterable[Release]) -> Dict[str, Dict[str, Release]]:
    """Group source releases by series; identical duplicates collapse, differing ones are fatal."""
    groups: Dict[str, Dict[str, Release]] = {}
    for rel in releases:
        group = groups.setdefault(series_of(rel.version), {})
        prev = group.get(rel.version)
        if prev is None:
            group[rel.version] = rel
        elif prev != rel:
            raise UpdateError(
                f"source lists {rel.version} twice with different data:\n"
                f"  {prev.url} {prev.sha256}\n  {rel.url} {rel.sha256}"
            )
        else:
            note(f"source lists {rel.version} twice; using it once")
    return groups


def merge(series: str, source: Dict[str, Release], existing: Optional[Recipe], path: Path) -> Tuple[Recipe, List[str]]:
    """Combine source releases with an existing file. Returns (recipe, conflict messages)."""
    conflicts: List[str] = []
    if existing is None:
        ft, flags, merged = default_free_threading(series), list(DEFAULT_CONFIGURE_FLAGS), dict(source)
    else:
        ft, flags, merged = existing.free_threading, existing.configure_flags, dict(source)
        for old in existing.releases:
            new = source.get(old.version)
            if new is None:
                note(f"{path}: keeping {old.version}, which the source data does not list")
                merged[old.version] = old
            elif new.sha256 != old.sha256:
                conflicts.append(
                    f"{path}: {old.version}: source sha256 {new.sha256} differs from "
                    f"the file's sha256 {old.sha256}"
                )
            elif new.url != old.url:
                note(f"{path}: {old.version}: url changes from {old.url} to {new.url} (same sha256)")
    releases = sorted(merged.values(), key=lambda r: version_sort_key(r.version))
    return Recipe(series, ft, flags, releases), conflicts


def write_atomically(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(content)
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise UpdateError(f"cannot write {path}: {e.strerror or e}") from e


# --------------------------------------------------------------------------------------
# Entry point


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="update-recipes.py",
        description="Regenerate ftpy's per-series CPython recipe files (recipes/3.X.toml).",
    )
    p.add_argument(
        "--from-tsv",
        metavar="FILE",
        type=Path,
        help="read releases from a TSV with header 'version<TAB>url<TAB>sha256' "
        "instead of python.org's downloads API",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=DEFAULT_OUT,
        help="directory of the recipe files (default: the recipes/ directory beside scripts/)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if any file would change",
    )
    p.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"network timeout per request (default: {DEFAULT_TIMEOUT:g})",
    )
    return p


def run(args: argparse.Namespace) -> int:
    if args.from_tsv is not None:
        source_rows = read_tsv(args.from_tsv)
        source_name = str(args.from_tsv)
    else:
        source_rows = read_python_org(args.timeout)
        source_name = "python.org"
    if not source_rows:
        raise UpdateError(f"no valid releases of 3.{MIN_MINOR} or later in {source_name}")

    groups = group_by_series(source_rows)
    out_dir: Path = args.out
    plans: List[Tuple[Path, str, Optional[str], int]] = []
    conflicts: List[str] = []
    for series in sorted(groups, key=lambda s: int(s.split(".")[1])):
        path = out_dir / f"{series}.toml"
        existing = load_existing(path, series)
        recipe, errs = merge(series, groups[series], existing, path)
        conflicts.extend(errs)
        try:
            old_text: Optional[str] = path.read_text(encoding="utf-8") if existing is not None else None
        except OSError as e:
            raise UpdateError(f"cannot read {path}: {e.strerror or e}") from e
        plans.append((path, render(recipe), old_text, len(recipe.releases)))

    if conflicts:
        for msg in conflicts:
            print(f"error: {msg}", file=sys.stderr)
        print(
            "error: refusing to overwrite published digests; nothing was written. "
            "Find out which digest is right and fix the source or the file by hand.",
            file=sys.stderr,
        )
        return 1

    changed = [(path, new, old, n) for path, new, old, n in plans if new != old]
    if args.check:
        for path, _new, old, _n in changed:
            print(f"{path}: would be {'created' if old is None else 'updated'}")
        if changed:
            print(f"{len(changed)} recipe file(s) out of date; run {SCRIPT_NAME} to regenerate")
            return 1
        print(f"{len(plans)} recipe file(s) up to date")
        return 0

    if changed:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UpdateError(f"cannot create {out_dir}: {e.strerror or e}") from e
    for path, new, old, n in plans:
        if new == old:
            print(f"{path}: unchanged ({n} releases)")
        else:
            write_atomically(path, new)
            print(f"{path}: {'created' if old is None else 'updated'} ({n} releases)")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except UpdateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
