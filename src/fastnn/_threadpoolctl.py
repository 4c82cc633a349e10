"""fastnn's thread pool as seen by threadpoolctl, the tool through which scikit-learn, joblib and
Dask keep nested parallelism from oversubscribing the cores: ``threadpool_info()`` lists fastnn
next to OpenBLAS and OpenMP, and ``threadpool_limits(1)`` limits it as it limits them.

threadpoolctl knows only the libraries registered with it. fastnn registers its controller when
threadpoolctl is imported, before or after fastnn, without importing it itself: ``import fastnn``
stays free of it (it is not a dependency). The controller finds fastnn's compiled module among
the loaded libraries by the two C functions it exports (bindings/module.cpp).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from types import ModuleType
from typing import Any, Optional, Sequence

_lock = threading.Lock()
_version = ""  # fastnn's, given to install (this module may not import the package)


def _register(threadpoolctl: Any) -> None:
    with _lock:
        # Marked on the module: a threadpoolctl imported afresh (removed from sys.modules and
        # imported again) has an empty list of controllers again.
        if getattr(threadpoolctl, "_fastnn_registered", False):
            return
        if not hasattr(threadpoolctl, "register"):
            return  # threadpoolctl < 3.2 has no register(): fastnn stays invisible to it
        threadpoolctl._fastnn_registered = True

    class FastnnController(threadpoolctl.LibController):  # type: ignore[misc]
        user_api = "fastnn"
        internal_api = "fastnn"
        # threadpoolctl compares lower-cased file names: _C.cpython-311-x86_64-linux-gnu.so,
        # _C.cp311-win_amd64.pyd. Other packages' _C modules (PyTorch's) lack the symbols.
        filename_prefixes = ("_c.",)
        check_symbols = ("fastnn_get_num_threads", "fastnn_set_num_threads")

        def get_num_threads(self) -> int:
            return int(self.dynlib.fastnn_get_num_threads())

        def set_num_threads(self, num_threads: int) -> int:
            return int(self.dynlib.fastnn_set_num_threads(int(num_threads)))

        def get_version(self) -> str:
            return _version

    threadpoolctl.register(FastnnController)


class _Loader(importlib.abc.Loader):
    """threadpoolctl's own loader, then the registration."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, is_package...: the wrapped loader's, for inspect and
        # importlib.resources.
        return getattr(self._loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _register(module)


class _OnImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when threadpoolctl is imported it asks the finders after it for the
    module, and wraps the loader they give so that the registration follows the import."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]],
                  target: Optional[ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != "threadpoolctl":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


def install(version: str) -> None:
    """Registers now if threadpoolctl is loaded, else when it is; version is fastnn's."""
    global _version
    _version = version
    module = sys.modules.get("threadpoolctl")
    if module is not None:
        _register(module)
    elif not any(isinstance(f, _OnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _OnImport())
