"""PyInstaller entry script of the bundled ``iris-gui`` (same as the ``iris-gui`` console script)."""

import multiprocessing
import sys

from iris_gui.gui.app import main

#: the star check's measuring process: the window starts ``sys.executable -m MODULE``, and in the
#: bundle sys.executable is this program
STAR_CHECK_WORKER = "iris_gui.display.star_check_worker"

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if sys.argv[1:3] == ["-m", STAR_CHECK_WORKER]:
        from iris_gui.display.star_check_worker import main as measure

        sys.exit(measure())
    sys.exit(main())
