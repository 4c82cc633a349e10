"""The command line: ``python -m fastnn train`` on the shipped sample, and ``--version``; every bad
argument, missing dataset or failed save as one line on stderr, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

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
    version = subprocess.run([sys.executable, "-m", "fastnn", "--version"], capture_output=True,
                             text=True)
    assert version.stdout.strip() == f"fastnn {fastnn.__version__}"


# ---- bad arguments: one line on stderr naming the argument and what it takes, status 2 ----------
def run_main(capsys, *args):
    """(exit status, stdout, stderr) of ``fastnn train *args`` run in this process."""
    from fastnn.__main__ import main

    try:
        status = main(["train", *args])
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


@pytest.mark.parametrize("args, wanted", [
    (["--epochs", "-1"], "--epochs: expected an integer >= 1; received '-1'"),
    (["--epochs", "0"], "--epochs: expected an integer >= 1"),
    (["--epochs", "1.5"], "--epochs: expected an integer >= 1"),
    (["--hidden", "0"], "--hidden: expected comma-separated integers >= 1"),
    (["--hidden", ""], "--hidden: expected comma-separated integers >= 1, e.g. 512 or 256,128; "
                       "received ''"),
    (["--hidden", "512,,10"], "--hidden: expected comma-separated integers >= 1"),
    (["--hidden", "-5"], "--hidden: expected comma-separated integers >= 1"),
    (["--batch-size", "0"], "--batch-size: expected an integer >= 1"),
    (["--lr", "-1"], "--lr: expected a number > 0"),
    (["--lr", "0"], "--lr: expected a number > 0"),
    (["--lr", "nan"], "--lr: expected a number > 0"),
    (["--lr", "inf"], "--lr: expected a number > 0"),
    (["--threads", "0"], "--threads: expected an integer from 1 to "),
    (["--threads", "100000"], "--threads: expected an integer from 1 to "),
    (["--seed", "-1"], "--seed: expected an integer >= 0"),
    (["--optimizer", "nadam"], "--optimizer: invalid choice: 'nadam'"),
    (["--verbose", "3"], "--verbose: invalid choice: 3"),
])
def test_a_bad_value_is_one_line_naming_what_the_argument_takes(capsys, args, wanted):
    status, out, err = run_main(capsys, *args)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("fastnn train: error: argument ")
    assert wanted in err


def test_bad_paths_are_refused_before_training(capsys, tmp_path):
    for args, wanted in [
            (["--dataset", str(tmp_path / "nowhere")],
             f"--dataset: no file or folder {tmp_path / 'nowhere'} (expected sample, mnist, "
             f"fashion_mnist, or --dataset PATH"),
            (["--save", str(tmp_path / "m.h5")], f"or {tmp_path / 'm.fnn'} instead"),
            (["--save", str(tmp_path / "M.KERAS")], "only from a name ending in .keras"),
            (["--save", str(tmp_path / "no" / "m.fnn")], f"no folder {tmp_path / 'no'}"),
            (["--save", str(tmp_path)], f"is a folder; name a file in it, e.g. "
                                        f"{tmp_path / 'model.fnn'}")]:
        status, out, err = run_main(capsys, *args)
        assert (status, out, err.count("\n")) == (2, "", 1), err
        assert wanted in err


def test_the_shell_sees_status_2_and_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "fastnn", "train", "--epochs", "-1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("fastnn train: error: argument --epochs: expected an integer >= 1; "
                        "received '-1' (see fastnn train --help)\n")


def test_help_shows_every_default(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    status, out, _ = run_main(capsys, "--help")
    assert status == 0
    options = ["--dataset", "--hidden", "--epochs", "--batch-size", "--optimizer", "--lr",
               "--seed", "--save", "--threads", "--verbose"]
    assert out.count("(default:") == len(options)
    for option, default in [("--epochs", "5"), ("--batch-size", "128"), ("--hidden", "512"),
                            ("--optimizer", "rmsprop"), ("--dataset", "sample"), ("--seed", "0"),
                            ("--verbose", "1")]:
        after = out[out.index(f"  {option} "):]
        assert f"(default: {default})" in " ".join(after.split()[:40]), option


# ---- what is not an argument's fault: one line, no traceback, status 1 --------------------------
@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_a_dataset_that_is_nowhere_names_dataset_path_and_where_it_looked(capsys, offline_home,
                                                                         dataset):
    status, out, err = run_main(capsys, "--dataset", dataset)
    assert status == 1 and out == "" and err.count("\n") == 1
    assert "is not on this machine and could not be downloaded (<urlopen error" in err
    assert f"looked in {offline_home / '.fastnn' / 'datasets'}" in err
    assert err.rstrip().endswith("or pass --dataset PATH") and "load_data" not in err


def test_a_dataset_file_that_is_not_one(capsys, tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    (tmp_path / "empty").mkdir()
    for path, wanted in [(tmp_path / "bad.npz", "not a readable npz"),
                         (tmp_path / "empty", "neither an npz file nor a folder")]:
        status, out, err = run_main(capsys, "--dataset", str(path))
        assert status == 1 and out == "" and err.count("\n") == 1
        assert err.startswith("fastnn train: error: --dataset: ") and wanted in err


def test_a_save_that_fails_and_ctrl_c(capsys, tmp_path, monkeypatch):
    import fastnn.__main__ as cli

    def disk_full(self, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(models.Sequential, "save", disk_full)
    status, out, err = run_main(capsys, "--epochs", "1", "--hidden", "8", "--verbose", "0",
                                "--save", str(tmp_path / "m.fnn"))
    assert status == 1 and "test accuracy" in out
    assert err.count("\n") == 1 and "No space left on device" in err

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "train", interrupted)
    assert run_main(capsys, "--epochs", "1") == (130, "", "\nfastnn train: interrupted\n")


# ---- accepted as compile accepts it; warned but run ---------------------------------------------
@pytest.mark.parametrize("name", ["RMSprop", "Adam", "SGD", "adagrad"])
def test_optimizer_names_in_any_case(capsys, name):
    status, out, err = run_main(capsys, "--optimizer", name, "--epochs", "1", "--hidden", "8",
                                "--verbose", "0")
    assert (status, err) == (0, "")
    assert f", {name.lower()}, batch 128" in out and "trained 1 epoch(s)" in out


def test_more_threads_than_cpus_warns_on_one_line_and_runs(capsys, monkeypatch,
                                                           restore_threads):
    from fastnn import _C

    monkeypatch.setattr(_C, "available_cpus", lambda: 1)
    status, out, err = run_main(capsys, "--threads", "2", "--epochs", "1", "--hidden", "8",
                                "--verbose", "0")
    assert status == 0 and "2 thread(s)" in out and "trained 1 epoch(s)" in out
    assert err == ("fastnn train: warning: --threads 2 is more than the 1 CPU(s) this process "
                   "may use; the extra threads wait for a CPU and slow training down\n")
