"""The window starts without the engine's heavy imports (start time: the window is to be shown
within a second of launch). Each is imported where it is first used, and the worker imports them
in the background shortly after the window is up (``worker.WARM_UP_DELAY_MS``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

#: module -> what it costs at start and where it is imported instead
DEFERRED = {
    "astropy.io.fits": "~0.25 s with astropy.units: engine modules use engine.lazy.fits",
    "astropy.wcs": "~0.15 s with astropy.coordinates: imported in engine.wcs functions",
    "astropy.coordinates": "comes with astropy.wcs",
    "drizzle": "imported by steps.resample.resample_model",
    "astropy.visualization": "~0.3 s: imported by display.stretch.zscale_limits",
    "scipy": "not needed by the engine",
    "gwcs": "not needed by the engine",
    "asdf": "imported by parameter_files.load_asdf and reading when a file has an ASDF extension",
}


def imported_after(statement: str) -> set[str]:
    code = (f"import json, sys\n{statement}\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_main_window_module_imports_none_of_the_heavy_engine_modules():
    modules = imported_after("import iris_gui.gui.main_window, iris_gui.gui.app")
    loaded = {name: why for name, why in DEFERRED.items()
              if name in modules or any(m.startswith(name + ".") for m in modules)}
    assert not loaded, f"imported at start (defer them to first use): {loaded}"


def test_lazy_fits_is_astropy_fits_once_used():
    from astropy.io import fits as real

    from iris_gui.engine.lazy import fits

    assert fits.Header is real.Header and fits.open is real.open
    assert "imported" in repr(fits)
