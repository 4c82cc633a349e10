"""The command line: ``python -m fastnn train`` on the shipped sample, and ``--version``."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import fastnn
from fastnn import models


def test_train_command_on_the_shipped_sample(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "fastnn", "train", "--epochs", "1", "--hidden", "64",
                        "--verbose", "0", "--save", str(tmp_path / "m.fnn")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "MNIST sample" in r.stdout and "test accuracy" in r.stdout
    acc = float(r.stdout.split("test accuracy")[1].split()[0])
    assert acc > 0.8
    assert models.load_model(tmp_path / "m.fnn").predict(np.zeros((1, 784))).shape == (1, 10)
    version = subprocess.run([sys.executable, "-m", "fastnn", "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"fastnn {fastnn.__version__}"
