"""Starting iris-gui: without a display (one line and exit 2, not Qt's abort), offscreen, and the
console's completion (never jedi on the GUI thread)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from iris_gui.gui.app import NO_DISPLAY_MESSAGE, needs_display


def headless_env(tmp_path, platform: str | None) -> dict[str, str]:
    """The current environment without a display; settings and caches kept under tmp_path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    if platform is not None:
        env["QT_QPA_PLATFORM"] = platform
    for name in ("config", "cache"):
        (tmp_path / name).mkdir(exist_ok=True)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env


def run_gui(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iris_gui", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland are Linux's")
@pytest.mark.parametrize("platform", [None, "xcb", "wayland;xcb"])
def test_no_display_says_so_in_one_line_and_exits_2(tmp_path, platform):
    result = run_gui([], headless_env(tmp_path, platform), timeout=30)
    assert result.returncode == 2, result.stderr  # not -6 (SIGABRT) / 134
    lines = result.stderr.strip().splitlines()
    assert lines == [NO_DISPLAY_MESSAGE]
    assert "no display" in lines[0]
    for hint in ("iris-image2", "--smoke-test", "QT_QPA_PLATFORM=offscreen"):
        assert hint in lines[0]
    assert "Aborted" not in result.stderr and "core" not in result.stderr
    assert "xcb-cursor" not in result.stderr  # Qt's own text was never reached
    assert result.stdout == ""


@pytest.mark.parametrize(("environ", "platform", "expected"), [
    ({}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "wayland-egl"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:nograb;wayland"}, "linux", True),
    ({"QT_QPA_PLATFORM": ""}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"QT_QPA_PLATFORM": "minimal"}, "linux", False),
    ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "linux", False),
    ({"QT_QPA_PLATFORM": "xcb;offscreen"}, "linux", False),  # Qt falls back to offscreen
    ({"DISPLAY": ":0"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"}, "linux", False),
    ({}, "win32", False),
    ({}, "darwin", False),
])
def test_needs_display(environ, platform, expected):
    assert needs_display(environ, platform) is expected


@pytest.mark.parametrize("platform", ["offscreen", None])
def test_smoke_test_runs_without_a_display(tmp_path, demo_dataset, platform):
    """offscreen starts with no display; --smoke-test without any platform falls back to it."""
    out = tmp_path / "smoke"
    started = time.perf_counter()
    result = run_gui(["--smoke-test", str(out), str(demo_dataset.asn)],
                     headless_env(tmp_path, platform), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke-test: PASSED" in result.stdout
    assert "no display" not in result.stderr
    assert list(out.glob("*_cal.fits"))
    assert time.perf_counter() - started < 60


def test_console_completion_is_immediate_and_without_jedi(qtbot, window):
    console = window.ensure_console()
    assert console.kernel.shell.Completer.use_jedi is False
    replies = []
    console.kernel_client.shell_channel.message_received.connect(
        lambda msg: replies.append(msg) if msg["msg_type"] == "complete_reply" else None)
    for code, expected in (("np.me", "np.mean"), ("window.sh", "window.show"),
                           ("workbench.res", "workbench.results")):
        replies.clear()
        started = time.perf_counter()
        msg_id = console.kernel_client.complete(code, len(code))
        qtbot.waitUntil(lambda sent=msg_id: any(r["parent_header"].get("msg_id") == sent
                                                for r in replies), timeout=2000)
        assert time.perf_counter() - started < 2
        content = replies[-1]["content"]
        # a match replaces code[cursor_start:cursor_end]; IPython 9 starts it at the dot
        completed = [code[:content["cursor_start"]] + m for m in content["matches"]]
        assert expected in completed, content
    # the shell's own completer too (what the kernel calls)
    started = time.perf_counter()
    _, matches = console.kernel.shell.complete("", "fits.op", 7)
    assert "fits.open" in matches or ".open" in matches  # IPython 9 gives the part after the dot
    assert time.perf_counter() - started < 2


def test_prepare_event_loop_hands_the_lock_over_often_freezes_startup_objects_and_turns_off_huge_pages(
        monkeypatch):
    import gc

    from iris_gui.engine import pages
    from iris_gui.gui.app import SWITCH_INTERVAL_S, prepare_event_loop

    before = sys.getswitchinterval()
    monkeypatch.delenv(pages.ENV, raising=False)
    setter = pages._setter()
    advice = setter(True)  # numpy's default on Linux
    try:
        prepare_event_loop()
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S) == 0.001
        assert os.environ[pages.ENV] == "0" and setter(False) is False
        frozen = gc.get_freeze_count()
        assert frozen > 1000                        # the modules and objects made so far
        made = [[k] for k in range(100)]            # garbage made later is still collected
        del made
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        sys.setswitchinterval(before)
        setter(advice)


def test_iris_gui_prepares_its_event_loop(monkeypatch):
    """main() calls prepare_event_loop before app.exec (read from the code path it runs)."""
    import inspect

    from iris_gui.gui import app

    source = inspect.getsource(app.main)
    assert source.index("prepare_event_loop()") < source.index("app.exec()")
