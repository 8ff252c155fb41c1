"""--jobs N is the core budget: the row-block threads and resample's drizzle processes follow it."""

import os

import pytest

from iris_gui.engine import blocks, cores, resample_parallel


@pytest.fixture(autouse=True)
def _restore_budget(monkeypatch):
    monkeypatch.delenv(resample_parallel.WORKERS_ENV, raising=False)
    monkeypatch.setattr(cores, "usable_cores", lambda: 4)
    yield
    cores.set_core_budget(None)


def test_default_budget_is_every_usable_core():
    assert cores.core_budget() == 4
    assert blocks.worker_count() == 4


def test_budget_limits_threads_and_drizzle_processes():
    cores.set_core_budget(1)
    assert blocks.worker_count() == 1
    assert resample_parallel.worker_count(4096 * 4096) == 1
    cores.set_core_budget(3)
    assert blocks.worker_count() == 3
    expected = 3 if hasattr(os, "fork") else 1
    assert resample_parallel.worker_count(4096 * 4096) == expected


def test_budget_never_exceeds_the_usable_cores_or_the_cap(monkeypatch):
    cores.set_core_budget(16)
    assert cores.core_budget() == 4
    monkeypatch.setattr(cores, "usable_cores", lambda: 64)
    assert cores.core_budget() == cores.MAX_CORES


def test_budget_none_restores_and_nonsense_is_refused():
    cores.set_core_budget(2)
    cores.set_core_budget(None)
    assert cores.core_budget() == 4
    with pytest.raises(ValueError, match="0"):
        cores.set_core_budget(0)


def test_cli_jobs_sets_the_budget_of_an_in_process_run(tmp_path, monkeypatch):
    """iris-image2 --jobs 1 on one product: the run in this process gets a budget of one."""
    from iris_gui import cli
    from iris_gui.engine.demo import write_demo_dataset

    write_demo_dataset(str(tmp_path), size=64, n_backgrounds=1)
    seen = []
    real = cli._run_serial

    def spy(*args, **kwargs):
        seen.append(cores.core_budget())
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "_run_serial", spy)
    science = str(tmp_path / "iris_demo_rate.fits")
    for jobs, expected in (("1", 1), ("3", 3)):
        code = cli.main([science, "--output-dir", str(tmp_path / f"out{jobs}"), "--jobs", jobs,
                         "-q", "--steps.bkg_subtract.skip=true"])
        assert code == 0
        assert seen[-1] == expected


def test_cli_run_leaves_the_budget_as_it_found_it(tmp_path):
    from iris_gui import cli
    from iris_gui.engine.demo import write_demo_dataset

    write_demo_dataset(str(tmp_path), size=64, n_backgrounds=1)
    science = str(tmp_path / "iris_demo_rate.fits")
    assert cli.main([science, "--output-dir", str(tmp_path / "out"), "--jobs", "1", "-q",
                     "--steps.bkg_subtract.skip=true"]) == 0
    assert cores.core_budget() == 4


def _budget_in_worker(_arg) -> tuple[int, int]:
    return cores.core_budget(), blocks.worker_count()


def test_product_pool_workers_get_their_share_of_the_cores():
    """iris-image2 --jobs 2: each of the 2 workers runs its row blocks on its own share."""
    from iris_gui.engine.product_pool import PoolTask, ProductPool

    done = {}
    pool = ProductPool(2, worker_cores=1, modules=())
    try:
        pool.run([PoolTask(_budget_in_worker, None, "a")],
                 on_done=lambda index, future: done.update({index: future.result()}))
    finally:
        pool.shutdown()
    assert done == {0: (1, 1)}
