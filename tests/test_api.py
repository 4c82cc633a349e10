"""The public API as a user meets it: every public name documented, a light ``import fastnn``,
one version, and the README's code blocks running as written."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

import fastnn
from fastnn.testing import OPTIONAL_MODULES, public_modules

README = Path(__file__).resolve().parents[1] / "README.md"


def public_names() -> Iterator[Tuple[str, Any]]:
    """(qualified name, object) of every public module, name in an ``__all__``, and public
    method or property of a public class."""
    modules = public_modules()
    for module_name in modules:
        module = importlib.import_module(module_name)
        yield module_name, module
        assert hasattr(module, "__all__"), f"{module_name} has no __all__"
        for name in module.__all__:
            if f"{module_name}.{name}" in OPTIONAL_MODULES and \
                    f"{module_name}.{name}" not in modules:
                continue  # its optional dependency is not installed
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
@pytest.mark.parametrize("index", range(8))
def test_readme_python_blocks_run(index, tmp_path):
    blocks = readme_blocks()
    assert len(blocks) == 8, "a block was added or removed: update the range above"
    for extra, module in (("sklearn", "sklearn"),):
        if f"from {module}" in blocks[index] and importlib.util.find_spec(module) is None:
            pytest.skip(f'this block needs pip install "fastnn[{extra}]"')
    r = subprocess.run([sys.executable, "-c", blocks[index]], capture_output=True, text=True,
                       cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr


def test_arrays_with_their_own_float32_dtype_object():
    # An unpickled array (as joblib and Dask hand them over) has a float32 dtype that equals
    # numpy's but is another object: the kernels once refused it as "not a float32 array".
    import pickle

    import numpy as np

    rng = np.random.default_rng(0)
    x, w = (pickle.loads(pickle.dumps(rng.standard_normal(s).astype(np.float32)))
            for s in ((8, 5), (5, 3)))
    assert x.dtype == np.float32 and x.dtype is not np.dtype(np.float32)
    np.testing.assert_allclose(fastnn.ops.matmul(x, w), x @ w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fastnn.ops.add(x, x), x + x)
    model = fastnn.models.Sequential([fastnn.layers.Input((5,)), fastnn.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    y = pickle.loads(pickle.dumps(np.zeros((8, 3), np.float32)))
    model.fit(x, y, epochs=1, verbose=0)
    assert model.predict(x, verbose=0).shape == (8, 3)
