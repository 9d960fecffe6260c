"""The Lambda package ships hash-checked bytecode when the program runs on the runtime's Python version."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from governance import lambda_code
from governance.lambda_code import LAMBDA_ROOT, PACKAGE, RUNTIME_VERSION, compile_bytecode, source_files

RUNTIME_PYTHON = Path.home() / ".pyenv" / "versions" / "3.13.0" / "bin" / "python3"
"""An interpreter of the runtime's version, where this machine has one."""
PACKAGE_LIMIT_BYTES = 1_000_000


def copy_package(into: Path) -> dict[str, Path]:
    """A copy of the Lambda package's sources under ``into``, by path inside the zip."""
    shutil.copytree(LAMBDA_ROOT / PACKAGE, into / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    return {inside: into / inside for inside in source_files()}


def test_the_zip_holds_sources_only_on_another_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lambda_code, "ships_bytecode", lambda: False)
    files = lambda_code.package_files()
    assert files == source_files() and all(inside.endswith(".py") for inside in files)
    assert "ships without bytecode" in str(lambda_code.bytecode_warning())


def test_bytecode_is_shipped_only_for_the_runtime_version() -> None:
    assert lambda_code.ships_bytecode(RUNTIME_VERSION)
    assert not lambda_code.ships_bytecode((3, 12)) and not lambda_code.ships_bytecode((3, 14))
    assert lambda_code.LAMBDA_RUNTIME == "python3.13"


def test_every_source_gets_bytecode_named_by_its_path_in_the_zip(tmp_path: Path) -> None:
    sources = copy_package(tmp_path)
    compiled = compile_bytecode(sources, root=tmp_path)
    tag = sys.implementation.cache_tag
    assert sorted(compiled) == sorted(f"{Path(inside).parent}/__pycache__/{Path(inside).stem}.{tag}.pyc" for inside in sources)
    for inside, path in compiled.items():
        header = path.read_bytes()[:16]
        assert int.from_bytes(header[4:8], "little") == 0b11, f"{inside} is not hash-checked"


def test_the_same_sources_compile_to_the_same_bytes_wherever_they_are(tmp_path: Path) -> None:
    first = compile_bytecode(copy_package(tmp_path / "a"), root=tmp_path / "a")
    second = compile_bytecode(copy_package(tmp_path / "b"), root=tmp_path / "b")
    assert {inside: path.read_bytes() for inside, path in first.items()} == {inside: path.read_bytes() for inside, path in second.items()}


def load_counting_compiles(root: Path, python: str = sys.executable) -> tuple[int, str]:
    """Import the handler and every fixer from ``root`` in a fresh interpreter: (sources compiled, a fixer's result).

    The interpreter finds boto3 where this one does (it is pure Python), so another version can run it too.
    """
    script = (
        "import importlib._bootstrap_external as external\n"
        "compiled = []\n"
        "original = external.SourceLoader.source_to_code\n"
        "def counting(self, data, path, *args, **kwargs):\n"
        "    compiled.append(path)\n"
        "    return original(self, data, path, *args, **kwargs)\n"
        "external.SourceLoader.source_to_code = counting\n"
        "import remediation.handler, remediation.fixers as fixers\n"
        "loaded = fixers.FIXERS\n"
        f"print(sum(1 for path in compiled if path.startswith({str(root)!r})), loaded['s3-account-public-access'].parse_params({{}}))\n"
    )
    path = os.pathsep.join([str(root), str(Path(boto3.__file__).parent.parent)])
    output = subprocess.run(
        [python, "-c", script], check=True, capture_output=True, text=True, cwd=root, env={"PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    ).stdout.split(" ", 1)
    return int(output[0]), output[1].strip()


def test_python_loads_the_shipped_bytecode_instead_of_compiling(tmp_path: Path) -> None:
    sources = copy_package(tmp_path)
    assert load_counting_compiles(tmp_path)[0] > 0, "without bytecode every module is compiled"
    compile_bytecode(sources, root=tmp_path)
    assert load_counting_compiles(tmp_path) == (0, "Params()")


def test_bytecode_of_an_edited_source_is_not_used(tmp_path: Path) -> None:
    sources = copy_package(tmp_path)
    compile_bytecode(sources, root=tmp_path)
    module = sources[f"{PACKAGE}/fixers/s3_account_public_access.py"]
    module.write_text(module.read_text().replace('    """No params to check."""\n    return Params()', '    """No params to check."""\n    return "edited"'))
    assert load_counting_compiles(tmp_path) == (1, "edited")


@pytest.mark.skipif(not RUNTIME_PYTHON.exists(), reason="no Python 3.13 on this machine")
def test_the_runtime_version_uses_what_the_program_compiles(tmp_path: Path) -> None:
    # The program, run on the runtime's Python, compiles the package; that Python then imports it without compiling.
    sources = copy_package(tmp_path)
    compile_in_runtime = (
        "import sys; from pathlib import Path; from governance.lambda_code import compile_bytecode; "
        f"root = Path({str(tmp_path)!r}); compile_bytecode({{inside: root / inside for inside in {sorted(sources)!r}}}, root=root)"
    )
    subprocess.run([str(RUNTIME_PYTHON), "-c", compile_in_runtime], check=True, cwd=LAMBDA_ROOT.parent, env={"PYTHONPATH": str(LAMBDA_ROOT.parent)})
    assert all(path.name.endswith(".cpython-313.pyc") for path in (tmp_path / PACKAGE / "__pycache__").iterdir())
    assert load_counting_compiles(tmp_path, str(RUNTIME_PYTHON)) == (0, "Params()")


def test_the_package_with_its_bytecode_stays_under_one_megabyte(tmp_path: Path) -> None:
    sources = copy_package(tmp_path)
    files = {**sources, **compile_bytecode(sources, root=tmp_path)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for inside, path in sorted(files.items()):
            archive.write(path, inside)
    assert len(buffer.getvalue()) < PACKAGE_LIMIT_BYTES
