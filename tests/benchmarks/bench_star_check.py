"""Star check and SAMP on size² frames: the time from a pick to the table, and the longest the
GUI thread was away from its event loop meanwhile (issue 14: nothing blocks it > 20 ms); the
time to send a pane's frame to a stand-in DS9 on a hub started here, and the stall meanwhile:

    python tests/benchmarks/bench_star_check.py [--size 4096] [--picks 5]

A flat_field-like result (sky 100 + noise 5 + 40 Gaussian stars of sigma 1.5-3 px, after =
before / 0.9) in a real ``StepImageView`` with the Star check panel. Each pick is the panel's
``pick`` at a star (what a click calls), the first one paying the measuring process's start and
photutils' import there (~2.5 s; ``display.star_check_process``). Each send writes the frame
(size² float32) as FITS into the app's temporary folder on the SAMP thread and waits until the
stand-in client has the message. The stall is the longest turn of a loop of ``processEvents``
+ 1 ms sleep, minus the sleep; the same loop idle for 2 s first gives the machine's own noise
(other processes on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def build_result(size: int):
    from iris_gui.engine.association import Member, Product
    from iris_gui.engine.config import PipelineConfig
    from iris_gui.engine.models import ImageModel
    from iris_gui.engine.pipeline import ProductResult
    from iris_gui.engine.steps.base import StepResult
    from iris_gui.engine.wcs import tan_wcs

    rng = np.random.default_rng(4)
    data = rng.normal(100.0, 5.0, (size, size)).astype(np.float32)
    half = 16
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    stars = []
    for _ in range(40):
        cx, cy = (int(v) for v in rng.integers(64, size - 64, 2))
        sigma, peak = rng.uniform(1.5, 3.0), rng.uniform(300, 3000)
        data[cy - half:cy + half + 1, cx - half:cx + half + 1] += (
            peak * np.exp(-(xx ** 2 + yy ** 2) / (2 * sigma ** 2))).astype(np.float32)
        stars.append((cx, cy))
    before = ImageModel(data, np.full_like(data, 5.0), np.zeros(data.shape, np.uint32))
    before.wcs = tan_wcs((150.0, 2.0), (size / 2 + 0.5, size / 2 + 0.5), 0.004 / 3600, 20.0)
    after = before.derive(data=data / np.float32(0.9))
    result = ProductResult(Product("bench", [Member("bench_rate.fits", "science")]),
                           PipelineConfig(), "", input_model=before)
    result.steps["flat_field"] = StepResult("COMPLETE", after)
    return result, stars


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--picks", type=int, default=5)
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval (s; Python's default 0.005): how long the "
                             "GUI thread may wait for the GIL a worker holds, at each wait")
    args = parser.parse_args(argv)
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)

    from PySide6.QtWidgets import QApplication

    from iris_gui.gui.image_view import StepImageView
    from iris_gui.gui.view_samp import SampCommands
    from iris_gui.gui.view_star_check import StarCheckPanel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    result, stars = build_result(args.size)
    view = StepImageView()
    view.resize(1300, 760)
    view.show()
    panel = StarCheckPanel(view)
    panel.show()
    from iris_gui.gui.app import prepare_event_loop

    prepare_event_loop()  # as iris-gui does before its event loop
    view.show_step(result, "flat_field")

    def loop_until(done, timeout=120.0):
        stall, t0 = 0.0, time.perf_counter()
        while not done() and time.perf_counter() - t0 < timeout:
            turn = time.perf_counter()
            app.processEvents()
            time.sleep(0.001)
            stall = max(stall, time.perf_counter() - turn - 0.001)
        return time.perf_counter() - t0, stall

    loop_until(lambda: not view.busy)
    # the machine's own noise: the same loop with nothing to do (other processes, the OS)
    _, idle = loop_until(lambda: False, timeout=2.0)
    print(f"{args.size}² frames; star check of {args.picks} stars; idle loop's longest stall "
          f"{idle * 1e3:.1f} ms")
    times, stalls = [], []
    for index, (x, y) in enumerate(stars[:args.picks]):
        count = len(view.state.star_checks)
        panel.pick("A", x + 0.3, y - 0.4)
        took, stall = loop_until(lambda c=count: len(view.state.star_checks) > c
                                 or not panel.busy)
        times.append(took)
        stalls.append(stall)
        note = " (photutils loads)" if index == 0 else ""
        print(f"  pick {index + 1}: {took * 1e3:7.1f} ms to the table, longest GUI stall "
              f"{stall * 1e3:5.1f} ms{note}")
    if len(times) > 1:
        print(f"  after the first: median {statistics.median(times[1:]) * 1e3:.1f} ms, "
              f"longest stall {max(stalls[1:]) * 1e3:.1f} ms")

    import pyvo.samp as samp

    samp.conf.use_internet = False
    lock = os.path.join(tempfile.mkdtemp(prefix="bench-samp-"), "lock")
    os.environ["SAMP_HUB"] = f"std-lockurl:file://{lock}"
    hub = samp.SAMPHubServer(web_profile=False, addr="127.0.0.1", lockfile=lock)
    hub.start()
    got = []
    ds9 = samp.SAMPIntegratedClient(name="ds9", addr="127.0.0.1")
    ds9.connect()
    ds9.bind_receive_notification("image.load.fits", lambda *a: got.append(a[4]))
    commands = SampCommands(view, lambda paths: None, lambda text: None)
    try:
        for index in range(3):
            count = len(got)
            commands.send_frame("B" if index % 2 else "A")
            took, stall = loop_until(lambda c=count: len(got) > c)
            print(f"  SAMP send {index + 1}: {took * 1e3:7.1f} ms to DS9 (the {args.size}² FITS "
                  f"written), longest GUI stall {stall * 1e3:5.1f} ms"
                  f"{' (pyvo loads, connects)' if index == 0 else ''}")
    finally:
        commands.shutdown()
        ds9.disconnect()
        hub.stop()
        view.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
