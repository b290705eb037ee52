//! Small Python packages written into a test directory, built from source by pip through
//! tests/fixtures/ftpy_test_backend.py (an in-tree PEP 517 backend: no index is needed).

use std::fs;
use std::path::{Path, PathBuf};

const BACKEND: &str = include_str!("../fixtures/ftpy_test_backend.py");

/// A C extension `<name>._core` with `add(a, b)`. `declares_no_gil` adds the `Py_mod_gil` slot
/// that tells a free-threaded interpreter it may keep the GIL off; `refuses_free_threading`
/// makes the build fail on a free-threaded interpreter, as packages with no support yet do.
#[derive(Default)]
pub struct Extension {
    pub declares_no_gil: bool,
    pub refuses_free_threading: bool,
    /// Builds for the limited API (abi3), which free-threaded CPython refuses (3.13 and 3.14).
    pub limited_api: bool,
}

fn c_source(name: &str, ext: &Extension) -> String {
    let guard = if ext.refuses_free_threading {
        format!("#ifdef Py_GIL_DISABLED\n#error \"{name} does not support free-threaded Python\"\n#endif\n")
    } else {
        String::new()
    };
    let gil_slot = if ext.declares_no_gil { "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n" } else { "" };
    let limited = if ext.limited_api { "#define Py_LIMITED_API 0x030D0000\n" } else { "" };
    format!(
        r#"{limited}#include <Python.h>
{guard}
static PyObject *add(PyObject *self, PyObject *args) {{
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}}
static PyMethodDef methods[] = {{{{"add", add, METH_VARARGS, NULL}}, {{NULL, NULL, 0, NULL}}}};
static PyModuleDef_Slot slots[] = {{
{gil_slot}    {{0, NULL}}
}};
static struct PyModuleDef def = {{PyModuleDef_HEAD_INIT, "_core", NULL, 0, methods, slots}};
PyMODINIT_FUNC PyInit__core(void) {{ return PyModuleDef_Init(&def); }}
"#
    )
}

/// Build the sdist of a package tree with `python` (through the tree's own backend); return its
/// file name and bytes.
pub fn sdist_of(python: &Path, package: &Path) -> (String, Vec<u8>) {
    let out = package.join("dist");
    fs::create_dir_all(&out).unwrap();
    let run = std::process::Command::new(python)
        .current_dir(package)
        .args(["-c", "import sys; sys.path.insert(0, '.'); import ftpy_test_backend as b; print(b.build_sdist(sys.argv[1]))"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let name = String::from_utf8_lossy(&run.stdout).trim().to_string();
    let bytes = fs::read(out.join(&name)).unwrap();
    fs::remove_dir_all(&out).unwrap();
    (name, bytes)
}

/// Write a package source tree under `parent/<name>` and return its path.
pub fn write_package(
    parent: &Path,
    name: &str,
    extension: Option<Extension>,
    dependencies: &[&str],
) -> PathBuf {
    let root = parent.join(name);
    let pkg = root.join("src").join(name);
    fs::create_dir_all(&pkg).unwrap();
    fs::write(root.join("ftpy_test_backend.py"), BACKEND).unwrap();
    let deps: Vec<String> = dependencies.iter().map(|d| format!("{d:?}")).collect();
    let mut pyproject = format!(
        "[build-system]\nrequires = []\nbuild-backend = \"ftpy_test_backend\"\nbackend-path = [\".\"]\n\n\
         [project]\nname = \"{name}\"\nversion = \"1.0\"\ndependencies = [{}]\n",
        deps.join(", ")
    );
    let init = match &extension {
        Some(ext) => {
            fs::write(root.join(format!("{name}_core.c")), c_source(name, ext)).unwrap();
            pyproject
                .push_str(&format!("\n[tool.ftpy-test.extensions]\n\"{name}._core\" = \"{name}_core.c\"\n"));
            "from ._core import add\n".to_string()
        }
        None => "def add(a, b):\n    return a + b\n".to_string(),
    };
    fs::write(root.join("pyproject.toml"), pyproject).unwrap();
    fs::write(pkg.join("__init__.py"), init).unwrap();
    root
}
