"""SAMP in the window (View ▸ SAMP): send a pane's frame, a product's exported _cal / _i2d, the
regions and sky positions to DS9, Aladin or TOPCAT; receive ``image.load.fits`` to open a file
as an input. The messages and temporary files are Qt-free (``display.samp_messages``).

- ``SampLink`` (``samp_link``) owns the ``pyvo.samp`` client. Every call to the hub runs on its one thread
  (connecting, listing clients, sending, starting a hub): the GUI thread never waits on the
  network. What comes back, and what other clients send, reaches the GUI thread by queued
  signals (``status``, ``clientsChanged``, ``imageReceived``).
- It connects to a hub already running (the SAMP lock file, or ``SAMP_HUB``) when first asked
  to; with none a status-bar line says so. It starts a hub only from "Start a hub", and stops
  that hub when the window closes.
- ``SampCommands`` is the menu and what its entries do; frames are written (and derived views
  computed) on the SAMP thread into the app's temporary folder, removed when the window closes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication
from PySide6.QtWidgets import QMenu

from ..display import samp_messages as sm
from ..state.view_state import ROLES
from .samp_link import SampLink

log = logging.getLogger("iris_gui.gui")

class SampCommands(QObject):
    """View ▸ SAMP: the menu and what its entries do, for ``view``; received images go to
    ``open_paths`` (the window's own open path, its errors in a dialog), lines to ``say``."""

    def __init__(self, view, open_paths, say, parent: QObject | None = None) -> None:
        super().__init__(parent or view)
        self.view = view
        self.open_paths = open_paths
        self.say = say
        self.files = sm.SampFiles()
        self.link = SampLink(self)
        self.link.status.connect(say)
        self.link.imageReceived.connect(self._image_received)
        self.link.clientsChanged.connect(self._show_clients)
        self.link.connectionChanged.connect(self._show_connection)
        self.received: list[str] = []
        self._build_menu()
        self._closed = False
        app = QGuiApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def _build_menu(self) -> None:
        menu = self.menu = QMenu("SA&MP", self.view)
        menu.setToolTipsVisible(True)

        def add(text, slot, tip):
            action = menu.addAction(text)
            action.setToolTip(tip)
            action.setStatusTip(tip)
            action.triggered.connect(slot)
            return action

        self.connect_action = add("&Connect to the hub", self._toggle_connection,
                                  "Connect to the SAMP hub running on this desktop (DS9, Aladin "
                                  "and TOPCAT run one); while connected, images sent to iris_gui "
                                  "open as inputs")
        self.start_hub_action = add("Start a &hub", self.link.start_hub,
                                    "Start a SAMP hub in iris_gui (stopped when the window "
                                    "closes) and connect to it")
        self.recipients_menu = menu.addMenu("Send &to")
        self.recipients = QActionGroup(self)
        self.recipients.triggered.connect(
            lambda action: setattr(self.link, "recipient", action.data()))
        self._show_clients([])
        menu.addSeparator()
        self.frame_actions = {
            role: add(f"Send pane {role}'s &frame" if role == "A" else f"Send pane {role}'s "
                      "fr&ame", lambda _=False, r=role: self.send_frame(r),
                      f"Send the frame pane {role} shows as a FITS with its WCS "
                      "(image.load.fits)") for role in ROLES}
        self.cal_action = add("Send the product's _&cal", lambda: self.send_product("cal"),
                              "Send the exported _cal of the product shown (image.load.fits)")
        self.i2d_action = add("Send the product's _&i2d", lambda: self.send_product("i2d"),
                              "Send the exported _i2d of the product shown (image.load.fits)")
        self.regions_action = add("Send the &regions (DS9)", self.send_regions,
                                  "Send the view's regions as a DS9 region file, in fk5 through "
                                  "pane A's WCS (or image coordinates): ds9.set regions load")
        self.star_action = add("Point at the last &star checked", self.point_at_star,
                               "Centre the other tools on the last star check's RA/Dec "
                               "(coord.pointAt.sky)")
        self.cursor_action = add("Point at the c&ursor", self.point_at_cursor,
                                 "Centre the other tools on the RA/Dec under the cursor "
                                 "(coord.pointAt.sky)")
        menu.aboutToShow.connect(self._enable)
        self.menu_action = menu.menuAction()
        self.menu_action.setToolTip("Send frames, regions and positions to DS9, Aladin, TOPCAT")

    # ---- the menu's state ------------------------------------------------------------------------
    def _toggle_connection(self) -> None:
        if self.link.connected:
            self.link.disconnect_hub()
        else:
            self.link.connect_hub()

    def _show_connection(self, on: bool) -> None:
        self.connect_action.setText("&Disconnect from the hub" if on else "&Connect to the hub")
        self.start_hub_action.setEnabled(not on)

    def _show_clients(self, clients) -> None:
        menu = self.recipients_menu
        for action in self.recipients.actions():
            self.recipients.removeAction(action)
        menu.clear()
        entries = [(None, "Every client that takes it (broadcast)")]
        entries += [(cid, name) for cid, name, _ in clients]
        for cid, name in entries:
            action = QAction(name, menu)
            action.setCheckable(True)
            action.setData(cid)
            action.setChecked(cid == self.link.recipient)
            self.recipients.addAction(action)
            menu.addAction(action)
        if not clients:
            hint = menu.addAction("(connect to see the clients)" if not self.link.connected
                                  else "(no other client on the hub)")
            hint.setEnabled(False)

    def _enable(self) -> None:
        view = self.view
        for role, action in self.frame_actions.items():
            source = view.source(role)
            action.setEnabled(source is not None)
            action.setText(f"Send pane {role}'s frame ({source.label})" if source is not None
                           else f"Send pane {role}'s frame")
        for kind, action in (("cal", self.cal_action), ("i2d", self.i2d_action)):
            action.setEnabled(self.exported(kind) is not None)
        self.regions_action.setEnabled(bool(view.state.regions))
        self.star_action.setEnabled(self._last_star() is not None)
        self.cursor_action.setEnabled(view.cursor is not None)

    # ---- sending -------------------------------------------------------------------------------
    def send_frame(self, role: str) -> bool:
        view = self.view
        source = view.source(role)
        if source is None or view.result is None:
            self.say(f"SAMP: pane {role} shows nothing to send")
            return False
        plane, model = view.plane, source.model
        title = f"{view.result.product.name} {view.step_name} {source.label}"
        if model.nints > 1:
            title += f" int {plane + 1}"
        files = self.files

        def message():
            path = files.write_frame(source.frame(plane), title, wcs=model.wcs,
                                     header=model.header, sci_header=model.sci_header)
            return sm.image_message(path, title, image_id=path.stem)

        self.link.send(message, f"pane {role}'s frame ({source.label})")
        return True

    def exported(self, kind: str) -> Path | None:
        """The product's written _cal (or _calints) / _i2d, None if not exported."""
        result = self.view.result
        if result is None:
            return None
        endings = ("_cal.fits", "_calints.fits") if kind == "cal" else ("_i2d.fits",)
        for path in map(Path, result.outputs):
            if path.name.endswith(endings) and path.is_file():
                return path
        return None

    def send_product(self, kind: str) -> bool:
        path = self.exported(kind)
        if path is None:
            name = self.view.result.product.name if self.view.result is not None else "the product"
            self.say(f"SAMP: {name} has no exported _{kind} yet (File ▸ Export selected writes "
                     "it)")
            return False
        self.link.send(lambda: sm.image_message(path, path.name, image_id=path.stem), path.name)
        return True

    def send_regions(self) -> bool:
        from ..display import region_files as rf
        from .view_region_files import pane_wcs

        regions = self.view.state.regions
        if not regions:
            self.say("SAMP: there are no regions to send")
            return False
        _, wcs = pane_wcs(self.view)
        coords = "fk5" if wcs is not None else "image"
        files = self.files

        def message():  # on the SAMP thread: astropy regions loads on first use
            text = rf.specs_to_ds9(regions, coords, wcs)
            return sm.ds9_regions_message(files.write_text("regions", ".reg", text))

        self.link.send(message, f"{len(regions)} region{'s' if len(regions) != 1 else ''} "
                                f"({coords})")
        return True

    def _last_star(self):
        for check in reversed(self.view.state.star_checks):
            for measure in check.measures:
                if measure.ok and measure.ra is not None:
                    return check, measure
        return None

    def point_at_star(self) -> bool:
        found = self._last_star()
        if found is None:
            self.say("SAMP: no star check has a sky position (the panes need a WCS)")
            return False
        check, measure = found
        self.link.send(lambda: sm.point_at_message(measure.ra, measure.dec),
                       f"the star at RA {measure.ra:.6f}, Dec {measure.dec:+.6f}")
        return True

    def point_at_cursor(self) -> bool:
        cursor = self.view.cursor
        sky = self.view.sky_at(*cursor) if cursor is not None else None
        if sky is None:
            self.say("SAMP: the cursor has no sky position (move it over a pane with a WCS)")
            return False
        ra, dec = sky
        self.link.send(lambda: sm.point_at_message(ra, dec),
                       f"RA {ra:.6f}, Dec {dec:+.6f}")
        return True

    # ---- receiving -------------------------------------------------------------------------------
    def _image_received(self, path: str, sender: str) -> None:
        self.received.append(path)
        self.say(f"SAMP: opening {Path(path).name} from {sender}")
        self.open_paths([path])

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.link.shutdown()
        self.files.cleanup()


class _CloseWatcher(QObject):
    """Shuts SAMP down when the window closes (before its own closeEvent runs)."""

    def __init__(self, commands: SampCommands, parent: QObject) -> None:
        super().__init__(parent)
        self.commands = commands

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt naming)
        if event.type() == QEvent.Type.Close:
            self.commands.shutdown()
        return False


def build_samp(window) -> SampCommands:
    """``window.samp``: the SAMP menu (View ▸ SAMP), its messages in the status bar, received
    images opened through ``window.open_paths``."""
    commands = SampCommands(window.image_view, window.open_paths,
                            lambda text: window.statusBar().showMessage(text, 15000), window)
    window.installEventFilter(_CloseWatcher(commands, window))
    window.image_view.tool_actions.append(commands.menu_action)
    window.samp = commands
    return commands
