"""Replaces pyinstaller-hooks-contrib's astropy hook (user hooks take precedence): the same
collection -- every astropy submodule, its data files (unit/FITS/WCS tables, config templates), the
ply parser tables and the package metadata -- but without astropy's test suites and their data
(about 23 MB), which the workbench never imports."""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

# wcsaxes is matplotlib-only (and its __init__ raises pytest's Skipped, which stops the walk, when
# pytest is installed but matplotlib is not).
SKIP = ("astropy.visualization.wcsaxes",)


def _not_tests(name: str) -> bool:
    parts = name.split(".")
    return "tests" not in parts[1:] and "conftest" not in parts and not name.startswith(SKIP)


hiddenimports = collect_submodules("astropy", filter=_not_tests)
hiddenimports += ["numpy.lib.recfunctions"]  # imported from astropy's Cython code

_excluded = ["**/tests/**", "**/tests", "**/conftest.py"]
datas = collect_data_files("astropy", excludes=_excluded)
_with_py = collect_data_files("astropy", include_py_files=True, excludes=_excluded)
datas += [(src, dest) for src, dest in _with_py if src.endswith(("_parsetab.py", "_lextab.py"))]
datas += copy_metadata("astropy") + copy_metadata("numpy")
