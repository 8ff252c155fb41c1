"""Autosave and crash recovery for the workbench.

While the window runs it saves the session every few minutes to
``<state folder>/autosave-<pid>.iris-session`` (the state folder is ``$IRIS_GUI_STATE_DIR``, else
``$XDG_STATE_HOME/iris_gui``, else ``~/.local/state/iris_gui``) and removes that file when it
closes normally. At start, an autosave whose process is no longer running is what a crash left:
the window offers to restore it (then the file is removed, or kept if the user declines and
wants to look later: ``discard`` removes it).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..engine.files import pid_alive
from .session_file import SUFFIX, save_session
from .workbench import Workbench

#: minutes between autosaves
INTERVAL_MINUTES = 3
_NAME = re.compile(r"^autosave-(\d+)" + re.escape(SUFFIX) + "$")


def state_folder() -> Path:
    if os.environ.get("IRIS_GUI_STATE_DIR"):
        return Path(os.environ["IRIS_GUI_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "iris_gui"


def autosave_path(pid: int | None = None) -> Path:
    return state_folder() / f"autosave-{os.getpid() if pid is None else pid}{SUFFIX}"


def write_autosave(workbench: Workbench) -> Path | None:
    """Save the workbench to this process's autosave file (nothing when nothing is open)."""
    path = autosave_path()
    if not workbench.associations:
        discard(path)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_session(workbench, path)


def discard(path: str | os.PathLike | None = None) -> None:
    try:
        os.unlink(path or autosave_path())
    except FileNotFoundError:
        pass


@dataclass(frozen=True)
class Recoverable:
    path: Path
    saved: _dt.datetime

    def describe(self) -> str:
        return f"{self.path.name}, saved {self.saved:%Y-%m-%d %H:%M}"


def recoverable_sessions() -> list[Recoverable]:
    """Autosaves left by processes that are no longer running, newest first."""
    folder = state_folder()
    found = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = _NAME.match(entry.name)
        if not match or int(match.group(1)) == os.getpid() or pid_alive(int(match.group(1))):
            continue
        try:
            saved = _dt.datetime.fromtimestamp(entry.stat().st_mtime)
        except OSError:
            continue
        found.append(Recoverable(entry, saved))
    return sorted(found, key=lambda r: r.saved, reverse=True)
