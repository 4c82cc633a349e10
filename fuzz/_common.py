"""What the fuzz targets share: the rule every input must keep, and the libFuzzer set-up.

A reader of a hostile file may succeed, raise ValueError naming the file, or raise OSError; any
other exception is a finding (atheris reports it as a crash and saves the input), and so is a
ValueError whose message does not name the file, and an input that takes over 2 s (libFuzzer's
-timeout does not fire under atheris here, so the target times each input itself, with an alarm
that interrupts the reader).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, List

import atheris

# A hostile optimizer config may pass the deprecated ``lr=``, a hostile float64 weight may
# overflow float32: warnings, which say nothing about the reader's contract.
warnings.simplefilter("ignore")

# Where the target writes each input as a file ($FUZZ_SCRATCH, else a new temporary folder).
SCRATCH = Path(tempfile.mkdtemp(prefix="fastnn-fuzz-", dir=os.environ.get("FUZZ_SCRATCH")))
atexit.register(shutil.rmtree, SCRATCH, True)


SECONDS_PER_INPUT = 2.0


def forget(*modules: str) -> None:
    """Drops modules (and their submodules) that are already imported, so that importing them
    inside ``atheris.instrument_imports`` loads them instrumented: a .pth file may have imported
    zipfile at start-up (certifi's does), and a module loaded then gives the fuzzer no coverage.
    Whoever imported the old copy keeps it."""
    for name in list(sys.modules):
        if name in modules or name.split(".")[0] in modules:
            del sys.modules[name]


class SlowInput(BaseException):
    """An input took over SECONDS_PER_INPUT. A BaseException, so that no reader's
    ``except Exception`` turns it into a ValueError."""


def _too_slow(signum: int, frame: object) -> None:
    raise SlowInput(f"an input took over {SECONDS_PER_INPUT} s")


def check(path: Path, read: Callable[[Path], object]) -> None:
    """Runs read(path): success, ValueError naming path, or OSError pass; anything else raises,
    and so does a run of over SECONDS_PER_INPUT."""
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_INPUT)
    try:
        read(path)
    except ValueError as e:
        if str(path) not in str(e):
            raise AssertionError(f"a ValueError that does not name the file: {e}") from e
    except OSError:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if time.perf_counter() - start > SECONDS_PER_INPUT:  # an alarm swallowed somewhere
        raise SlowInput(f"an input took {time.perf_counter() - start:.1f} s")


def run(test_one_input: Callable[[bytes], None], seeds: Dict[str, bytes],
        dictionary: List[bytes]) -> None:
    """Writes the seeds into a corpus folder (the first folder given on the command line, else a
    new one under SCRATCH) and a token dictionary, then hands over to libFuzzer with sys.argv's
    flags. Given files instead (a saved finding), libFuzzer runs just those."""
    signal.signal(signal.SIGALRM, _too_slow)
    paths = [a for a in sys.argv[1:] if not a.startswith("-")]
    if paths and all(os.path.isfile(p) for p in paths):
        atheris.Setup(sys.argv, test_one_input)
        atheris.Fuzz()
        return
    args = [a for a in sys.argv[1:] if a.startswith("-")]
    corpus = Path(paths[0]) if paths else SCRATCH / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (corpus / f"seed-{name}").write_bytes(data)
    tokens = SCRATCH / "tokens.dict"
    tokens.write_text("".join('"' + "".join(f"\\x{b:02x}" for b in t) + '"\n'
                              for t in dictionary))
    if not any(a.startswith("-dict=") for a in args):
        args.append(f"-dict={tokens}")
    if not any(a.startswith("-artifact_prefix=") for a in args):
        args.append(f"-artifact_prefix={os.getcwd()}/")
    atheris.Setup([sys.argv[0], *args, str(corpus), *paths[1:]], test_one_input)
    atheris.Fuzz()
