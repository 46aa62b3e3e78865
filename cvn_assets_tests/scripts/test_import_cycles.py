"""scripts/import_cycles.py finds cycles through local imports and through a package's re-exports."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "import_cycles.py"
spec = importlib.util.spec_from_file_location("import_cycles", SCRIPT)
assert spec and spec.loader
import_cycles = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_cycles)


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_a_cycle_hidden_in_a_function_is_found(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {"__init__.py": "", "a.py": "from pkg.b import x\n", "b.py": "x = 1\ndef f():\n    from pkg.a import y\n"},
    )
    assert import_cycles.module_cycles(package) == [["pkg.a", "pkg.b"]]


def test_a_module_importing_its_package_that_re_exports_it_closes_a_cycle(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "g/__init__.py": "from pkg.g.e import v\nfrom pkg.g.r import w\n",
            "g/c.py": "",
            "g/e.py": "from pkg.g import c\nv = 1\n",
            "g/r.py": "from pkg.g.e import v\nw = 2\n",
        },
    )
    assert import_cycles.module_cycles(package) == [["pkg.g", "pkg.g.e", "pkg.g.r"]]


def test_a_package_re_exporting_its_modules_alone_is_no_cycle(tmp_path: Path) -> None:
    package = _package(
        tmp_path, {"__init__.py": "from pkg.m import z\n", "m.py": "z = 0\n", "n.py": "from pkg import m\n"}
    )
    assert import_cycles.module_cycles(package) == []
