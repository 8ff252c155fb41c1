"""iris-image2 --jobs N / --summary / --resume: many products in worker processes."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from factories import default_sigint

from iris_gui.cli import main
from iris_gui.engine import batch
from iris_gui.engine.lazy import fits

DATA_EXTENSIONS = ("SCI", "ERR", "DQ", "WHT", "CON", "SUBARR_MAP")


def run_cli(*args):
    return main([str(a) for a in args])


def data_bytes(folder: Path) -> dict[str, dict[str, bytes]]:
    """Each output's data arrays, as bytes (headers carry a creation time)."""
    arrays = {}
    for path in sorted(folder.glob("*.fits")):
        with fits.open(path) as hdul:
            arrays[path.name] = {hdu.name: hdu.data.tobytes() for hdu in hdul
                                 if hdu.name in DATA_EXTENSIONS and hdu.data is not None}
    return arrays


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from iris_gui.engine.demo import write_demo_dataset

    return write_demo_dataset(tmp_path_factory.mktemp("batch_demo"), size=64, seed=3)


@pytest.fixture(scope="module")
def serial_outputs(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    assert run_cli(demo.asn, "--output-dir", out, "-q", "--jobs", 1) == 0
    return out


def test_parallel_outputs_are_the_same_bytes_as_one_at_a_time(demo, serial_outputs, tmp_path,
                                                              capsys):
    out = tmp_path / "parallel"
    summary = tmp_path / "run.json"
    assert run_cli(demo.asn, "--output-dir", out, "--jobs", 2, "--summary", summary) == 0
    err = capsys.readouterr().err
    assert "4 product(s), 2 at once" in err
    assert "iris_demo: flat_field: COMPLETE" in err  # plain lines: stderr is not a terminal
    assert "[4/4]" in err and "4/4 product(s) done" in err
    assert "product" in err and "status" in err  # the final table
    serial, parallel = data_bytes(serial_outputs), data_bytes(out)
    assert len(serial) == 8 and parallel == serial
    assert not list(out.glob(".iris-*.part"))

    document = json.loads(summary.read_text())
    assert document["total"] == {"products": 4, "done": 4, "skipped": 0, "failed": 0,
                                 "cancelled": 0, "seconds": document["total"]["seconds"],
                                 "jobs": 2}
    first = document["products"][0]
    assert first["name"] == "iris_demo" and first["status"] == "done"
    assert [s["name"] for s in first["steps"]][:2] == ["bkg_subtract", "assign_wcs"]
    assert all(s["status"] in ("COMPLETE", "SKIPPED") for s in first["steps"])
    assert sorted(Path(p).name for p in first["outputs"]) == ["iris_demo_cal.fits",
                                                              "iris_demo_i2d.fits"]


def _with_broken_product(demo, folder: Path) -> Path:
    """A copy of the demo association with a fifth product whose science file is cut short."""
    shutil.copytree(demo.directory, folder)
    good = folder / "iris_demo_rate.fits"
    (folder / "broken_rate.fits").write_bytes(good.read_bytes()[:5000])
    asn = folder / Path(demo.asn).name
    document = json.loads(asn.read_text())
    document["products"].insert(1, {"name": "broken", "members": [
        {"expname": "broken_rate.fits", "exptype": "science"}]})
    asn.write_text(json.dumps(document))
    return asn


def test_a_failing_product_does_not_stop_the_others(demo, tmp_path, capsys):
    asn = _with_broken_product(demo, tmp_path / "data")
    serial_code = run_cli(asn, "--output-dir", tmp_path / "one", "-q", "--jobs", 1)
    csv_summary = tmp_path / "run.csv"
    code = run_cli(asn, "--output-dir", tmp_path / "two", "-q", "--jobs", 2,
                   "--summary", csv_summary)
    assert code == serial_code != 0
    assert data_bytes(tmp_path / "two") == data_bytes(tmp_path / "one")
    assert len(data_bytes(tmp_path / "two")) == 8  # the four good products, whole
    rows = {row["product"]: row for row in csv.DictReader(csv_summary.open())}
    assert rows["broken"]["status"] == "failed" and rows["broken"]["error"]
    assert rows["iris_demo"]["status"] == "done"
    assert rows["iris_demo"]["flat_field_status"] == "COMPLETE"
    assert float(rows["iris_demo"]["flat_field_seconds"]) >= 0
    err = capsys.readouterr().err
    assert err.count("ERROR: broken:") == 2  # once by each run, the worker's through the queue


def test_resume_skips_exactly_the_up_to_date_products(demo, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(demo.directory, data)
    asn = data / Path(demo.asn).name
    out = tmp_path / "out"
    assert run_cli(asn, "--output-dir", out, "-q", "--jobs", 2) == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.fits")}
    capsys.readouterr()

    assert run_cli(asn, "--output-dir", out, "--resume", "--jobs", 2) == 0
    assert "4 of 4 product(s) are up to date and skipped" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.fits")} == before

    touched = data / "iris_demo_rate.fits"  # touched but the same bytes: still up to date
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    science = data / "iris_demo_sub_rate.fits"  # a changed input re-runs its product only
    with fits.open(science, mode="update") as hdul:
        hdul["SCI"].data[0, 0] += 1
    summary = tmp_path / "resume.json"
    assert run_cli(asn, "--output-dir", out, "--resume", "--jobs", 2, "--summary", summary) == 0
    assert "3 of 4 product(s) are up to date" in capsys.readouterr().err
    statuses = {p["name"]: p["status"] for p in json.loads(summary.read_text())["products"]}
    assert statuses == {"iris_demo": "skipped", "iris_demo_sub": "done",
                        "iris_demo_submap": "skipped", "iris_demo_ints": "skipped"}
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.fits")}
    assert {n for n in after if after[n] != before[n]} == {"iris_demo_sub_cal.fits",
                                                          "iris_demo_sub_i2d.fits"}

    # a changed parameter re-runs every product (one at a time here: --jobs 1 resumes too)
    assert run_cli(asn, "--output-dir", out, "--resume", "--jobs", 1, "-q",
                   "--steps.resample.pixfrac=0.8") == 0
    assert run_cli(asn, "--output-dir", out, "--resume", "--jobs", 1,
                   "--steps.resample.pixfrac=0.8") == 0
    assert "4 of 4 product(s) are up to date" in capsys.readouterr().err
    changed = {p.name: p.stat().st_mtime_ns for p in out.glob("*.fits")}
    assert all(changed[n] != after[n] for n in after)

    flat = data / "iris_demo_flat.fits"  # so does a changed reference
    with fits.open(flat, mode="update") as hdul:
        hdul["SCI"].data[0, 0] *= 1.01
    assert run_cli(asn, "--output-dir", out, "--resume", "--jobs", 2,
                   "--steps.resample.pixfrac=0.8") == 0
    assert "0 of 4 product(s) are up to date" in capsys.readouterr().err


def test_memory_limits_how_many_run_at_once(demo, serial_outputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(batch, "available_memory", lambda: 1)
    assert run_cli(demo.asn, "--output-dir", tmp_path, "-q", "--jobs", 2) == 0
    err = capsys.readouterr().err
    assert "memory limits the run to 1 product(s) at once, not 2" in err
    assert data_bytes(tmp_path) == data_bytes(serial_outputs)


def test_memory_estimate_reads_shapes_and_backgrounds(demo):
    from iris_gui.engine.association import load_inputs
    from iris_gui.engine.config import PipelineConfig

    products = {p.name: p for p in load_inputs(demo.asn).products}
    config = PipelineConfig()
    full = batch.estimate_peak_bytes(products["iris_demo"], config)
    sub = batch.estimate_peak_bytes(products["iris_demo_sub"], config)
    ints = batch.estimate_peak_bytes(products["iris_demo_ints"], config)
    assert batch.WORKER_BASE_BYTES < sub < full < ints
    config.steps["bkg_subtract"]["skip"] = True
    assert batch.estimate_peak_bytes(products["iris_demo"], config) < full
    assert batch.fitting_at_once([3, 2, 2], 4) == 1 and batch.fitting_at_once([3, 2], 10) == 2
    assert batch.fitting_at_once([3], 1) == 1


def test_bad_summary_name_and_jobs_are_usage_errors(demo, tmp_path, capsys):
    assert run_cli(demo.asn, "--output-dir", tmp_path, "--summary", tmp_path / "x.txt") == 2
    assert ".json or .csv" in capsys.readouterr().err
    assert run_cli(demo.asn, "--output-dir", tmp_path, "--jobs", 0) == 2
    assert not list(tmp_path.glob("*.fits"))


def start_parallel_run(dataset, out) -> subprocess.Popen:
    """``iris-image2 ASN --jobs 2`` in its own process group, killed (group and all) if it has
    not ended within three minutes, so a hang fails the test instead of stalling the suite."""
    process = subprocess.Popen(
        [sys.executable, "-m", "iris_gui.cli", str(dataset.asn), "--output-dir", str(out),
         "--jobs", "2"], stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=default_sigint)

    def kill_if_running() -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

    watchdog = threading.Timer(180, kill_if_running)
    watchdog.daemon = True
    watchdog.start()
    return process


@pytest.mark.parametrize("signum, to_group", [(signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["SIGTERM-to-the-run", "Ctrl-C-to-the-process-group"])
def test_stopping_a_parallel_run_leaves_nothing_half_written(tmp_path, signum, to_group):
    from iris_gui.engine.demo import write_demo_dataset

    out = tmp_path / "out"
    process = start_parallel_run(write_demo_dataset(tmp_path / "data", size=512, seed=5), out)
    lines = []
    deadline = time.monotonic() + 20
    for line in process.stderr:  # stop it once the first worker is computing
        lines.append(line)
        if ": started" in line or time.monotonic() > deadline:
            break
    if to_group:  # what a terminal's Ctrl-C does: every worker gets it too
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    rest = process.stderr.read()
    assert process.wait(timeout=30) == 128 + signum, "".join(lines) + rest
    assert ("stopped by SIGTERM" if signum == signal.SIGTERM else "interrupted") in rest
    assert "Traceback" not in rest
    assert not list(out.glob(".iris-*"))  # no temporaries
    names = {p.name for p in out.glob("*.fits")}
    assert len(names) < 8  # it was stopped before the end
    for product in ("iris_demo", "iris_demo_sub", "iris_demo_submap"):  # each whole or absent
        files = {f"{product}_cal.fits", f"{product}_i2d.fits"}
        assert files & names in (set(), files)


def test_progress_on_a_terminal_is_one_status_line():
    import io

    from iris_gui.engine.run_summary import BatchProgress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = BatchProgress(stream, quiet=False, total=2, workers=2)
    progress(("start", "a"))
    progress(("step", "a", "flat_field", "RUNNING", 0.0))
    progress(("done", batch.ProductRecord("b", "b.json", "failed", 1.0, error="broken")))
    progress.finish()
    text = stream.getvalue()
    assert "\r\033[K" in text and "a: flat_field" in text
    assert "done 0, running 1, failed 1, ETA" in text
    assert "[1/2] b: failed in 1.0 s" in text


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _workers_of(pid: int) -> list[int]:
    """The run's worker processes: spawned by it, or forked by its forkserver."""
    workers = []
    for child in _children(pid):
        command = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in command:
            workers.append(child)
        elif b"forkserver" in command:
            workers.extend(_children(child))
    return workers


def test_a_killed_worker_fails_nothing_its_products_run_again_alone(tmp_path):
    from iris_gui.engine.demo import write_demo_dataset

    out = tmp_path / "out"
    process = start_parallel_run(write_demo_dataset(tmp_path / "data", size=512, seed=5), out)
    lines = []
    for line in process.stderr:
        lines.append(line)
        if ": started" in line:
            os.kill(_workers_of(process.pid)[0], signal.SIGKILL)
            break
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 0, "".join(lines) + rest
    assert "its worker process died; running it again, alone" in rest
    assert "4/4 product(s) done" in rest
    assert len(list(out.glob("*.fits"))) == 8 and not list(out.glob(".iris-*"))


def test_workers_fork_from_a_server_started_before_the_plan_is_checked(demo, tmp_path,
                                                                        monkeypatch):
    """--jobs N: the workers' imports are made once, by a forkserver started before the run's
    output plan is checked (they run beside it); --jobs 1 and a single product start none."""
    import iris_gui.cli as cli
    from iris_gui.engine import product_pool

    order, methods = [], []
    monkeypatch.setattr(cli, "start_forkserver", lambda: order.append("forkserver"))
    plan_run = cli._plan_run
    monkeypatch.setattr(cli, "_plan_run", lambda *a: order.append("plan") or plan_run(*a))

    class Pool(product_pool.ProductPool):
        def __init__(self, workers, **options):
            methods.append(options.get("start_method"))
            super().__init__(workers, **options)

    monkeypatch.setattr(batch, "ProductPool", Pool)
    assert run_cli(demo.asn, "--output-dir", tmp_path / "a", "-q", "--jobs", 2) == 0
    assert order == ["forkserver", "plan"] and methods == ["forkserver"]
    order.clear()
    assert run_cli(demo.asn, "--output-dir", tmp_path / "b", "-q", "--jobs", 1) == 0
    assert order == ["plan"]
    order.clear()
    assert run_cli(demo.science, "--output-dir", tmp_path / "c", "-q", "--jobs", 2) == 0
    assert order == ["plan"] and methods == ["forkserver"]


def test_a_frozen_bundle_spawns_the_workers(monkeypatch):
    """A PyInstaller program does not take Python's -c, which is how a forkserver starts: the
    --jobs pool and the window's pool spawn their workers there."""
    from multiprocessing import forkserver

    from iris_gui.engine import inspection_pool, product_pool

    assert product_pool.pool_start_method() == "forkserver"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(forkserver, "ensure_running", lambda: pytest.fail("started"))
    assert product_pool.pool_start_method() == "spawn"
    assert inspection_pool.default_start_method() == "spawn"
    product_pool.start_forkserver()
