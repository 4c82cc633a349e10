"""The public API as a user meets it: every public name documented, a light ``import fastnn``,
one version, and the README's code blocks running as written."""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

import fastnn
from fastnn.testing import public_modules

README = Path(__file__).resolve().parents[1] / "README.md"


def public_names() -> Iterator[Tuple[str, Any]]:
    """(qualified name, object) of every public module, name in an ``__all__``, and public
    method or property of a public class."""
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        yield module_name, module
        assert hasattr(module, "__all__"), f"{module_name} has no __all__"
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or name == "__version__":
                continue
            yield f"{module_name}.{name}", obj
            if inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    public = not attr.startswith("_")
                    if public and (callable(value) or isinstance(value, property)):
                        yield f"{module_name}.{name}.{attr}", getattr(obj, attr)


def test_every_public_name_has_a_docstring():
    names = list(public_names())
    assert len(names) > 150  # the walk really covers the API
    undocumented = [name for name, obj in names if not (inspect.getdoc(obj) or "").strip()]
    assert undocumented == []


def test_docstring_examples_run():
    """The ``>>>`` examples in the API reference run and print what they show."""
    finder, runner = doctest.DocTestFinder(recurse=False), doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE)
    seen = set()
    for name, obj in public_names():
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for test in finder.find(obj, name, globs={}):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0, result


def test_import_fastnn_loads_nothing_heavy():
    # Optional packages load only when used, and so do the Keras-style modules.
    code = ("import sys, numpy; before = set(sys.modules); import fastnn; "
            "print(sorted(set(sys.modules) - before))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    for heavy in ("tqdm", "matplotlib", "torch", "fastnn.models", "fastnn.layers",
                  "fastnn.datasets", "fastnn.callbacks"):
        assert f"'{heavy}'" not in loaded, loaded
    assert fastnn.losses.__name__ == "fastnn.losses"  # and they load on first use


def test_one_version():
    toml = (README.parent / "pyproject.toml")
    if toml.is_file():  # the source tree: the build reads the version from __init__.py
        assert 'input = "src/fastnn/__init__.py"' in toml.read_text()
    from importlib.metadata import version
    assert version("fastnn") == fastnn.__version__
    cli = subprocess.run([sys.executable, "-m", "fastnn", "--version"], capture_output=True,
                         text=True, check=True)
    assert cli.stdout.strip() == f"fastnn {fastnn.__version__}"


def readme_blocks() -> List[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.skipif(not README.is_file(), reason="needs the README of the source tree")
@pytest.mark.parametrize("index", range(7))
def test_readme_python_blocks_run(index, tmp_path):
    blocks = readme_blocks()
    assert len(blocks) == 7, "a block was added or removed: update the range above"
    r = subprocess.run([sys.executable, "-c", blocks[index]], capture_output=True, text=True,
                       cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
