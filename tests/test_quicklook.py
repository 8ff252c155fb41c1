"""Quick-look end to end: files written into a watched folder in chunks from a thread are each
calibrated exactly once, never read half-written; failures are listed; a restart runs nothing."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from astropy.io import fits

import iris_gui.engine.pipeline as pipeline_module
import iris_gui.engine.quicklook as quicklook_module
import iris_gui.engine.steps.bkg_subtract as bkg_module
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.demo import write_demo_dataset
from iris_gui.engine.night_log import DONE, EARLIER, FAILED, LOG_NAME, SKY, read_night_log
from iris_gui.engine.quicklook import QuickLook, WatchSettings
from iris_gui.engine.watch_backgrounds import BackgroundRule
from iris_gui.report.night_checks import night_measurements

POLL = 0.05


def demo64_date() -> str:
    from iris_gui.engine.demo import DATE_OBS

    return DATE_OBS.strftime("%Y-%m-%dT%H:%M:%S.000")


@pytest.fixture(scope="module")
def demo64(tmp_path_factory):
    return write_demo_dataset(tmp_path_factory.mktemp("demo64"), size=64, seed=3,
                              n_backgrounds=3, nints=1)


def night_folder(tmp_path, demo) -> Path:
    folder = tmp_path / "night"
    folder.mkdir()
    for path in (demo.dark, demo.flat, demo.flat_other, demo.photom):
        shutil.copy(path, folder)  # the references beside the exposures, as in any run
    return folder


class Writer(threading.Thread):
    """Writes files into the folder as a detector's writer would: in chunks, with pauses."""

    def __init__(self, plan: list[tuple[str, bytes, int, float, bool]]) -> None:
        super().__init__(daemon=True)
        self.plan = plan  # (path, bytes, chunks, pause between chunks, finish it)
        self.final_size = {path: len(data) for path, data, *_ in plan}
        self.finished: set[str] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for path, data, chunks, pause, finish in self.plan:
                size = len(data) if finish else int(len(data) * 0.6)
                step = -(-size // chunks)
                with open(path, "wb") as handle:
                    for start in range(0, size, step):
                        if start and pause:
                            time.sleep(pause)
                        handle.write(data[start:start + step])
                        handle.flush()
                    if finish:  # whole on disk (the spy may see it before the close)
                        self.finished.add(path)
                if finish:
                    self.finished.add(path)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def spy_readers(monkeypatch, writer: Writer | None, reads: list[str]) -> None:
    """Every pixel read of an exposure must be of a file the writer has finished."""
    for module in (pipeline_module, bkg_module):
        real = module.read_image

        def spied(path, *args, _real=real, **kwargs):
            path = os.path.abspath(path)
            if writer is not None and path in writer.final_size:
                assert path in writer.finished, f"{path} read before it was written whole"
                assert os.path.getsize(path) == writer.final_size[path]
            reads.append(path)
            return _real(path, *args, **kwargs)

        monkeypatch.setattr(module, "read_image", spied)


def run_until(quicklook: QuickLook, done, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        quicklook.poll_once()
        if done():
            return
        time.sleep(POLL)
    raise AssertionError("quick-look did not get there in time: " + ", ".join(
        f"{r.name}={r.status}" for r in quicklook.rows.values()))


def new_quicklook(folder, out, shown=None, rule="recent:3") -> QuickLook:
    settings = WatchSettings(str(folder), str(out), backgrounds=BackgroundRule.parse(rule),
                             poll_seconds=POLL, incomplete_timeout=0.6)
    on_result = (lambda result: shown.append(result.product.science)) if shown is not None \
        else None
    return QuickLook(settings, PipelineConfig(), measure=night_measurements,
                     on_result=on_result)


def test_files_written_in_chunks_are_each_calibrated_once_and_a_restart_runs_nothing(
        tmp_path, demo64, monkeypatch):
    folder, out = night_folder(tmp_path, demo64), tmp_path / "out"
    science = demo64.science.read_bytes()
    plan = [(str(folder / f"sky{k}_rate.fits"), p.read_bytes(), 2, 0.0, True)
            for k, p in enumerate(demo64.backgrounds, 1)]
    plan.append((str(folder / "slow_rate.fits"), science, 5, 0.15, True))  # pauses of 3 polls
    plan.append((str(folder / "cut_rate.fits"), science, 3, 0.0, False))   # never finished
    plan.append((str(folder / "notes_rate.fits"), b"seeing 0.4 arcsec\n" * 300, 1, 0.0, True))
    plan += [(str(folder / f"burst{k:02d}_rate.fits"), science, 2, 0.0, True) for k in range(10)]
    writer = Writer(plan)
    reads: list[str] = []
    spy_readers(monkeypatch, writer, reads)
    shown: list[str] = []
    quicklook = new_quicklook(folder, out, shown)
    writer.start()
    names = [os.path.basename(p) for p, *_ in plan]
    run_until(quicklook, lambda: not writer.is_alive() and len(quicklook.rows) == len(names)
              and all(r.status in (DONE, FAILED, SKY) for r in quicklook.rows.values()))
    writer.join()
    assert writer.error is None
    rows = {r.name: r for r in quicklook.rows.values()}
    exposures = ["slow_rate.fits"] + [f"burst{k:02d}_rate.fits" for k in range(10)]
    assert {n: rows[n].status for n in names} == {
        **{f"sky{k}_rate.fits": SKY for k in (1, 2, 3)}, **dict.fromkeys(exposures, DONE),
        "cut_rate.fits": FAILED, "notes_rate.fits": FAILED}
    # each exposure shown (so run) exactly once, and read once as science
    assert sorted(os.path.basename(p) for p in shown) == sorted(exposures)
    science_reads = [p for p in reads if "sky" not in p]
    assert sorted(os.path.basename(p) for p in science_reads) == sorted(exposures)
    # 60 % of the file: the ERR extension's data is cut
    assert rows["cut_rate.fits"].reason.startswith("truncated: the ERR extension describes")
    assert "not a FITS file" in rows["notes_rate.fits"].reason
    slow = rows["slow_rate.fits"]
    assert slow.backgrounds == ["sky1_rate.fits", "sky2_rate.fits", "sky3_rate.fits"]
    assert slow.filter == "KN3" and slow.time == demo64_date()
    # the demo's sky is 5 DN/s; the three backgrounds average to it within their noise
    assert slow.sky_level == pytest.approx(5.0, abs=0.1) and slow.sky_source == "backgrounds"
    assert 0.0 <= slow.new_dq_fraction < 0.2
    assert slow.verdict in ("pass", "warn")
    for name in exposures:
        assert (out / name.replace("_rate.fits", "_cal.fits")).is_file()
    assert not (out / "cut_cal.fits").exists() and not (out / "notes_cal.fits").exists()
    assert not [p for p in os.listdir(out) if p.endswith(".part")]
    assert sorted(os.listdir(folder)) == sorted(names + [p.name for p in (
        demo64.dark, demo64.flat, demo64.flat_other, demo64.photom)])  # nothing written there
    logged = read_night_log(out)
    assert {os.path.basename(p): r.status for p, r in logged.items()} == {
        n: rows[n].status for n in names}

    # restart: everything recognised; nothing is run again
    runs: list[str] = []
    real_run = quicklook_module.run_job_with
    monkeypatch.setattr(quicklook_module, "run_job_with",
                        lambda job, *a, **k: runs.append(job.product.name) or real_run(job, *a,
                                                                                          **k))
    again = new_quicklook(folder, out)
    run_until(again, lambda: len(again.rows) == len(names)
              and all(r.status in (EARLIER, FAILED, SKY) for r in again.rows.values()),
              seconds=10)
    assert runs == []
    restarted = {r.name: r for r in again.rows.values()}
    assert all(restarted[n].status == EARLIER for n in exposures)
    assert restarted["slow_rate.fits"].sky_level == slow.sky_level  # kept in the night log
    assert restarted["cut_rate.fits"].reason == rows["cut_rate.fits"].reason
    assert restarted["notes_rate.fits"].status == FAILED


def test_a_failed_run_is_listed_after_a_restart_and_runs_again_on_retry(tmp_path, demo64,
                                                                        monkeypatch):
    folder, out = night_folder(tmp_path, demo64), tmp_path / "out"
    for k, path in enumerate(demo64.backgrounds, 1):
        shutil.copy(path, folder / f"sky{k}_rate.fits")
    with fits.open(demo64.science) as hdul:
        hdul[0].header["INSTRUME"] = "LIGER"  # the IRIS backgrounds do not belong to it
        hdul.writeto(folder / "liger_rate.fits")
    runs: list[str] = []
    real_run = quicklook_module.run_job_with
    monkeypatch.setattr(quicklook_module, "run_job_with",
                        lambda job, *a, **k: runs.append(job.product.name) or real_run(job, *a,
                                                                                          **k))
    first = new_quicklook(folder, out)
    run_until(first, lambda: any(r.status == FAILED for r in first.rows.values()))
    failed = next(r for r in first.rows.values() if r.status == FAILED)
    assert "INSTRUME" in failed.reason and runs == ["liger"]
    entry = json.loads((out / LOG_NAME).read_text())["rows"]
    assert [r["failure"] for r in entry if r["status"] == FAILED] == ["run"]

    second = new_quicklook(folder, out)
    run_until(second, lambda: any(r.status == FAILED for r in second.rows.values()))
    assert runs == ["liger"]  # listed from the log: the same inputs, references, parameters
    assert next(r for r in second.rows.values() if r.status == FAILED).reason == failed.reason
    second.request_retry(failed.path)
    run_until(second, lambda: len(runs) == 2 and any(r.status == FAILED
                                                     for r in second.rows.values()))
    assert runs == ["liger", "liger"]

    # a changed parameter changes the identity: the product runs again by itself
    config = PipelineConfig()
    config.set("steps.bkg_subtract.sigma", 2.5)
    third = new_quicklook(folder, out)
    third.config = config
    run_until(third, lambda: len(runs) == 3)


def test_a_name_shared_with_another_exposures_outputs_is_not_overwritten(tmp_path, demo64):
    folder, out = night_folder(tmp_path, demo64), tmp_path / "out"
    shutil.copy(demo64.science, folder / "a_rate.fits")
    first = new_quicklook(folder, out, rule="none")
    run_until(first, lambda: any(r.status == DONE for r in first.rows.values()))
    cal = (out / "a_cal.fits").read_bytes()
    other = tmp_path / "night2"
    shutil.copytree(folder, other)
    second = new_quicklook(other, out, rule="none")
    run_until(second, lambda: any(r.status == FAILED for r in second.rows.values()))
    reason = next(iter(second.rows.values())).reason
    assert "another exposure of the same product name" in reason
    assert (out / "a_cal.fits").read_bytes() == cal
