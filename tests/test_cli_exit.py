"""iris-image2 ends without the interpreter's teardown, and loses nothing by it
(``cli_common.exit_without_teardown``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from iris_gui.engine.demo import write_demo_dataset

ENDING = textwrap.dedent("""
    import atexit, sys, threading, time
    from pathlib import Path
    from iris_gui.cli_common import exit_without_teardown

    folder = Path(sys.argv[1])

    class Teardown:
        def __del__(self):
            (folder / "torn-down").write_text("")

    kept = Teardown()  # a module global: only the interpreter's teardown deletes it
    atexit.register(lambda: (folder / "exit-handler").write_text(""))

    def late_writer():
        time.sleep(0.3)
        (folder / "thread").write_text("")

    threading.Thread(target=late_writer).start()  # not a daemon: an exit waits for it
    sys.stdout.write("buffered, no newline")  # a pipe's stdout is block-buffered
    sys.stderr.write("also buffered")
    exit_without_teardown(3)
""")


def test_the_exit_keeps_what_a_normal_exit_does_and_skips_the_teardown(tmp_path):
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    completed = subprocess.run([sys.executable, "-c", ENDING, str(tmp_path)], capture_output=True,
                               text=True, timeout=60, env=buffered)
    assert completed.returncode == 3
    assert completed.stdout == "buffered, no newline"
    assert completed.stderr == "also buffered"
    assert (tmp_path / "thread").exists()  # the running thread was waited for
    assert (tmp_path / "exit-handler").exists()
    assert not (tmp_path / "torn-down").exists()  # the teardown did not run


def test_the_command_exits_with_mains_status_and_its_last_lines(tmp_path):
    demo = write_demo_dataset(tmp_path / "data", size=64, seed=3)
    command = [sys.executable, "-m", "iris_gui.cli", str(demo.science), "--output-dir",
               str(tmp_path / "out"), "--steps.resample.skip=true"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith("iris-image2: 1/1 product(s) done")
    assert (tmp_path / "out" / "iris_demo_cal.fits").exists()
    missing = subprocess.run([*command[:3], str(tmp_path / "nothing_rate.fits")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"iris-image2: error: {tmp_path / 'nothing_rate.fits'}: " \
                                     "file not found"
