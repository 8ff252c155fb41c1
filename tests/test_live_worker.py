"""The worker's part in live re-runs: it keeps the product's backgrounds ready while idle after a
run, and any new request stops that at once."""

from __future__ import annotations

import numpy as np
import pytest

from iris_gui.engine.association import load_association
from iris_gui.engine.cancel import CancelToken
from iris_gui.engine.demo import write_demo_dataset
from iris_gui.engine.pipeline import Image2Pipeline
from iris_gui.gui.worker import WorkerThread, background_budget


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    dataset = write_demo_dataset(tmp_path_factory.mktemp("live_worker"), size=96, seed=5)
    return load_association(dataset.asn).products[0]


@pytest.fixture()
def engine(qapp):
    thread = WorkerThread()
    yield thread
    assert thread.stop()


def run(qtbot, engine, pipeline, product, config):
    worker = engine.worker
    results = []
    worker.productDone.connect(results.append)
    with qtbot.waitSignal(worker.runFinished, timeout=60_000):
        worker.requestRun.emit(pipeline, [product], config, worker.new_run_token())
    worker.productDone.disconnect(results.append)
    return results[-1]


def test_idle_worker_keeps_the_backgrounds_and_the_next_sigma_uses_them(qtbot, engine, product):
    pipeline = Image2Pipeline()
    first = run(qtbot, engine, pipeline, product, pipeline.config.copy())
    assert first.ok
    store = pipeline.background_store
    assert store is not None and store.budget == background_budget()
    qtbot.waitUntil(lambda: store.nbytes > 0, timeout=30_000)  # prepared while idle
    assert store.reads == 1
    config = pipeline.config.copy()
    config.set("steps.bkg_subtract.sigma", 1.8)
    again = run(qtbot, engine, pipeline, product, config)
    expected = Image2Pipeline(config, cache=False).run_product(product)
    for name in ("data", "err", "dq"):
        assert np.array_equal(getattr(again.steps["bkg_subtract"].model, name),
                              getattr(expected.steps["bkg_subtract"].model, name), equal_nan=True)
    assert store.reads == 1  # served from the store, not read again


def test_any_request_stops_the_idle_preparation(qtbot, engine, product):
    worker = engine.worker
    for request, args in ((worker.requestPreview, (product,)),
                          (worker.requestExport, (Image2Pipeline(), [], "/nonexistent"))):
        idle = worker.idle_token = CancelToken()
        request.emit(*args)
        assert idle.cancelled  # on the requesting thread, before the worker picks it up
    idle = worker.idle_token = CancelToken()
    worker.new_run_token()
    assert idle.cancelled
    # a preparation whose token is already cancelled keeps nothing
    pipeline = Image2Pipeline(keep_backgrounds=1 << 30)
    token = CancelToken()
    token.cancel()
    worker._prepare_backgrounds(pipeline, product, token)
    assert pipeline.background_store.nbytes == 0
