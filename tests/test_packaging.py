"""The PyInstaller build in packaging/ and the ``iris-gui --smoke-test`` switch it is checked with.

The bundle tests build the spec (about a minute and 210 MB on disk), so they run only when asked:

    pip install ".[packaging]" && IRIS_GUI_TEST_PACKAGING=1 pytest tests/test_packaging.py
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "iris_gui.spec"

build_requested = os.environ.get("IRIS_GUI_TEST_PACKAGING") == "1"
needs_build = pytest.mark.skipif(
    importlib.util.find_spec("PyInstaller") is None or not build_requested,
    reason="packaging test: needs PyInstaller (pip install '.[packaging]') and IRIS_GUI_TEST_PACKAGING=1",
)


def clean_env(home: Path) -> dict[str, str]:
    """What a machine without this Python environment has: no venv on PATH, an empty HOME."""
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}


def test_smoke_test_switch_runs_exports_and_exits_zero(tmp_path):
    """``iris-gui --smoke-test OUT`` opens the demo, runs every product, exports, quits with 0."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CACHE_HOME=str(tmp_path / "cache"),
               HOME=str(tmp_path / "home"))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "iris_gui", "--smoke-test", str(out), "--demo-size", "128"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke-test: PASSED" in done.stdout
    assert (out / "iris_demo_cal.fits").exists() and (out / "iris_demo_ints_calints.fits").exists()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("pyinstaller")
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", str(SPEC), "--distpath", str(work / "dist"),
         "--workpath", str(work / "build"), "--noconfirm", "--log-level", "WARN"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-6000:]
    folder = work / "dist" / "iris_gui"
    assert (folder / "iris-gui").is_file() and (folder / "iris-image2").is_file()
    return folder


@needs_build
def test_bundled_iris_image2_help(bundle, tmp_path):
    done = subprocess.run([str(bundle / "iris-image2"), "--help"], env=clean_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: iris-image2" in done.stdout


@needs_build
def test_bundled_iris_image2_runs_and_writes_the_review_report(bundle, tmp_path, demo_dataset):
    done = subprocess.run([str(bundle / "iris-image2"), str(demo_dataset.asn), "-q",
                           "--output-dir", str(tmp_path / "out"), "--report",
                           str(tmp_path / "review")], env=clean_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "review" / "review.html").stat().st_size > 100_000
    assert (tmp_path / "review" / "review.pdf").read_bytes().startswith(b"%PDF")


@needs_build
def test_bundled_iris_gui_version_and_smoke_test(bundle, tmp_path):
    from iris_gui import __version__

    env = clean_env(tmp_path)
    done = subprocess.run([str(bundle / "iris-gui"), "--version"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"iris-gui {__version__}", done.stderr
    out = tmp_path / "out"
    done = subprocess.run([str(bundle / "iris-gui"), "--smoke-test", str(out), "--demo-size", "128"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "iris_demo_cal.fits").exists()
