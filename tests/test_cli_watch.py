"""iris-image2 --watch: one line per exposure, Ctrl-C exits 130 with nothing half-written, a
restart says what was done before; usage errors exit 2."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from factories import default_sigint

from iris_gui.cli import main
from iris_gui.engine.demo import write_demo_dataset


@pytest.fixture(scope="module")
def demo64(tmp_path_factory):
    return write_demo_dataset(tmp_path_factory.mktemp("demo64"), size=64, seed=5,
                              n_backgrounds=3, nints=1)


def start_watch(folder, out, *extra):
    command = [sys.executable, "-m", "iris_gui.cli", "--watch", str(folder), "--output-dir",
               str(out), "--poll", "0.05", "--backgrounds-from", "recent:3", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=default_sigint)


def read_lines(process, count: int, seconds: float = 60.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while len(lines) < count and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    return lines


def test_watch_prints_a_line_per_exposure_and_ctrl_c_exits_130(tmp_path, demo64):
    folder, out = tmp_path / "night", tmp_path / "out"
    folder.mkdir()
    for path in (demo64.dark, demo64.flat, demo64.photom):
        shutil.copy(path, folder)
    for k, path in enumerate(demo64.backgrounds, 1):
        shutil.copy(path, folder / f"sky{k}_rate.fits")
    process = start_watch(folder, out)
    try:
        shutil.copy(demo64.science, folder / "first_rate.fits")
        (folder / "junk_rate.fits").write_text("not FITS at all\n" * 50)
        lines = read_lines(process, 2)
        assert sorted(line.split(":")[0] for line in lines) == ["first_rate.fits",
                                                                "junk_rate.fits"]
        done = next(line for line in lines if line.startswith("first_rate.fits"))
        assert "done" in done and "KN3" in done and "sky 4.9" in done and "3 background(s)" in done
        assert "FAILED: not a FITS file" in next(line for line in lines if "junk" in line)
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read()
    assert "interrupted; unfinished products were not written" in stderr
    assert (out / "first_cal.fits").is_file() and (out / "iris_quicklook.json").is_file()
    assert not [name for name in os.listdir(out) if name.endswith(".part")]

    # a restart: nothing new to print; stderr says what an earlier run did
    process = start_watch(folder, out)
    try:
        deadline = time.monotonic() + 60
        text = ""
        while "failed earlier" not in text and time.monotonic() < deadline:
            text += process.stderr.readline()
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "1 exposure(s) calibrated earlier (outputs up to date), 1 failed earlier" in text
    assert process.stdout.read() == ""


@pytest.mark.parametrize("argv, message", [
    (["--watch", "."], "--watch needs --output-dir"),
    (["--pattern", "*.fits", "x.fits"], "--pattern go with --watch"),
    (["--watch", ".", "--output-dir", "o", "--jobs", "2"], "--watch does not go with --jobs"),
    (["--watch", ".", "--output-dir", "o", "a.fits"], "--watch takes no INPUT"),
    (["--watch", "no-such-folder", "--output-dir", "o"], "not a folder"),
    (["--watch", ".", "--output-dir", "o", "--backgrounds-from", "recent:zero"], "recent:N"),
])
def test_watch_usage_errors_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
