"""SAMP in the window (View ▸ SAMP): send a pane's frame, a product's exported _cal / _i2d, the
regions and sky positions to DS9, Aladin or TOPCAT; receive ``image.load.fits`` to open a file
as an input. The messages and temporary files are Qt-free (``display.samp_messages``).

- ``SampLink`` owns the ``pyvo.samp`` client. Every call to the hub runs on its one thread
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
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication
from PySide6.QtWidgets import QMenu

from .. import __version__
from ..display import samp_messages as sm
from ..state.view_state import ROLES

log = logging.getLogger("iris_gui.gui")

NO_HUB = ("SAMP: no hub is running — open DS9, Aladin or TOPCAT (each runs one), or "
          "View ▸ SAMP ▸ Start a hub")
HUB_EVENTS = ("samp.hub.event.register", "samp.hub.event.unregister",
              "samp.hub.event.metadata", "samp.hub.event.subscriptions")


def _samp():
    """pyvo.samp, loaded on first use (0.6 s) and kept on this machine's loopback: it would
    otherwise look up a web site to decide which address to listen on."""
    import pyvo.samp as samp

    samp.conf.use_internet = False
    return samp


class SampLink(QObject):
    """The SAMP client (module docstring). Methods return at once; results come by signal."""

    #: a line for the status bar
    status = Signal(str)
    #: [(client id, name, frozenset of the message types it takes)], hub excluded
    clientsChanged = Signal(list)
    #: a client asked us to open a file: local path, sender's name
    imageReceived = Signal(str, str)
    #: connected (True) or not
    connectionChanged = Signal(bool)
    _relay = Signal(object, object)
    #: from pyvo's receiving thread: "clients" (someone came, went or changed) or "shutdown"
    _hubEvent = Signal(str)

    def __init__(self, parent: QObject | None = None, name: str = "iris_gui") -> None:
        super().__init__(parent)
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="iris-gui-samp")
        self._pending = 0
        self._closed = False
        self._relay.connect(self._relayed)
        self._hubEvent.connect(self._hub_event_seen)
        # touched on the SAMP thread only
        self._client = None
        self._hub = None
        # the GUI thread's copies
        self.connected = False
        self.started_hub = False
        self.clients: list[tuple[str, str, frozenset]] = []
        #: client id the menu sends to; None: every client that takes the message
        self.recipient: str | None = None

    # ---- running on the SAMP thread ----------------------------------------------------------
    def _submit(self, fn, *args, then=None) -> None:
        if self._closed:
            return
        self._pending += 1

        def work():
            try:
                result, error = fn(*args), None
            except Exception as exc:  # noqa: BLE001 - every failure becomes a status line
                result, error = None, exc
            self._relay.emit(then, (result, error))

        self._pool.submit(work)

    def _relayed(self, then, outcome) -> None:
        self._pending -= 1
        if self._closed:
            return
        result, error = outcome
        if error is not None:
            self._failed(error)
        elif then is not None:
            then(result)

    def _failed(self, error: Exception) -> None:
        samp = sys.modules.get("pyvo.samp")  # (loaded already if the hub said anything)
        hub_error = getattr(samp, "SAMPHubError", ()) if samp is not None else ()
        if hub_error and isinstance(error, hub_error) and "Unable to find" in str(error):
            text = NO_HUB
        elif isinstance(error, (sm.SampMessageError, OSError)):
            text = f"SAMP: {error}"
        else:
            text = f"SAMP: {type(error).__name__}: {error}"
        log.warning("%s", text)
        self.status.emit(text)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def _ensure_client(self):
        if self._client is not None and self._client.is_connected:
            return self._client
        samp = _samp()
        client = samp.SAMPIntegratedClient(
            name=self.name, description="IRIS / Liger imager image2 workbench",
            metadata={"iris_gui.version": __version__}, addr="127.0.0.1")
        client.connect()
        for mtype in HUB_EVENTS:
            client.bind_receive_notification(mtype, self._hub_event)
        client.bind_receive_notification("samp.hub.event.shutdown", self._hub_shutdown)
        client.bind_receive_notification(sm.IMAGE_LOAD_FITS, self._image_notified)
        client.bind_receive_call(sm.IMAGE_LOAD_FITS, self._image_called)
        self._client = client
        return client

    def _list(self) -> list[tuple[str, str, frozenset]]:
        client = self._ensure_client()
        found = []
        for cid in client.get_registered_clients():
            if cid.endswith("#hub"):  # the hub's own client
                continue
            name = str(client.get_metadata(cid).get("samp.name") or cid)
            found.append((cid, name, frozenset(client.get_subscriptions(cid))))
        return found

    def _send(self, message: dict, recipient: str | None) -> tuple[str, list[str]]:
        client = self._ensure_client()
        mtype = message["samp.mtype"]
        takers = client.get_subscribed_clients(mtype)
        names = {cid: str(client.get_metadata(cid).get("samp.name") or cid) for cid in takers}
        if recipient is None:
            if not takers:
                raise sm.SampMessageError(f"no client on the hub takes {mtype}")
            client.notify_all(message)
            return mtype, sorted(names.values())
        if recipient not in takers:
            name = str(client.get_metadata(recipient).get("samp.name") or recipient) \
                if recipient in client.get_registered_clients() else recipient
            raise sm.SampMessageError(f"{name} does not take {mtype}")
        client.notify(recipient, message)
        return mtype, [names[recipient]]

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                client.disconnect()
            except Exception as exc:  # noqa: BLE001 - the hub went away first
                log.info("SAMP: disconnecting: %s", exc)
        hub, self._hub = self._hub, None
        if hub is not None:
            hub.stop()

    def _start_hub(self):
        samp = _samp()
        try:
            self._ensure_client()
            return "running"            # one was running already: use it
        except samp.SAMPHubError:
            pass
        hub = samp.SAMPHubServer(web_profile=False, addr="127.0.0.1", label="iris_gui")
        hub.start()
        self._hub = hub
        self._ensure_client()
        return "started"

    # ---- what other clients send (on pyvo's receiving thread) -------------------------------------
    def _hub_event(self, private_key, sender_id, mtype, params, extra) -> None:
        self._hubEvent.emit("clients")

    def _hub_shutdown(self, private_key, sender_id, mtype, params, extra) -> None:
        self._hubEvent.emit("shutdown")

    def _hub_event_seen(self, what: str) -> None:
        if self._closed:
            return
        if what == "shutdown":
            self._submit(self._disconnect,
                         then=lambda _r: self._set_connected(False, "SAMP: the hub shut down"))
        else:
            self.refresh_clients()

    def _received(self, sender_id: str, params: dict) -> str:
        path = sm.local_path(params.get("url", ""))
        sender = next((name for cid, name, _ in self.clients if cid == sender_id), sender_id)
        self.imageReceived.emit(path, sender)
        return path

    def _image_notified(self, private_key, sender_id, mtype, params, extra) -> None:
        try:
            self._received(sender_id, params)
        except sm.SampMessageError as exc:
            self.status.emit(f"SAMP: not opened: {exc}")

    def _image_called(self, private_key, sender_id, msg_id, mtype, params, extra) -> None:
        try:
            self._received(sender_id, params)
        except sm.SampMessageError as exc:
            self.status.emit(f"SAMP: not opened: {exc}")
            reply = {"samp.status": "samp.error", "samp.error": {"samp.errortxt": str(exc)}}
        else:
            reply = {"samp.status": "samp.ok", "samp.result": {}}
        try:
            self._client.reply(msg_id, reply)
        except Exception as exc:  # noqa: BLE001 - the sender went away
            log.info("SAMP: reply not delivered: %s", exc)

    # ---- asked from the GUI thread ---------------------------------------------------------------
    def _set_connected(self, on: bool, text: str = "") -> None:
        if on != self.connected:
            self.connected = on
            self.connectionChanged.emit(on)
        if not on:
            self.clients = []
            self.recipient = None
            self.clientsChanged.emit([])
        if text:
            self.status.emit(text)

    def _listed(self, clients) -> None:
        self.clients = clients
        if self.recipient not in {cid for cid, _, _ in clients}:
            self.recipient = None
        self.clientsChanged.emit(clients)
        if not self.connected:
            names = ", ".join(name for _, name, _ in clients) or "no other client yet"
            self._set_connected(True, f"SAMP: connected to the hub ({names})")

    def connect_hub(self) -> None:
        """Connect to the running hub (a status line if there is none)."""
        self._submit(self._list, then=self._listed)

    def refresh_clients(self) -> None:
        if self.connected:
            self._submit(self._list, then=self._listed)

    def start_hub(self) -> None:
        def started(how):
            self.started_hub = how == "started"
            self.status.emit("SAMP: started a hub (stopped when the window closes)"
                             if self.started_hub else "SAMP: a hub was already running; "
                                                      "connected to it")
            self.connect_hub()

        self._submit(self._start_hub, then=started)

    def disconnect_hub(self) -> None:
        def done(_r):
            self.started_hub = False
            self._set_connected(False, "SAMP: disconnected")

        self._submit(self._disconnect, then=done)

    def send(self, make_message, what: str) -> None:
        """Send the message ``make_message()`` makes (on the SAMP thread: it may write a file)
        to ``recipient`` or every client that takes it; the status bar says to whom."""
        recipient = self.recipient

        def work():
            message = make_message()
            return self._list(), self._send(message, recipient)

        def sent(outcome):
            clients, (mtype, names) = outcome
            self._listed(clients)
            self.status.emit(f"SAMP: sent {what} to {', '.join(names)} ({mtype})")

        self._submit(work, then=sent)

    def shutdown(self) -> None:
        """Disconnect (stopping a hub we started) and wait for the SAMP thread. Safe twice."""
        if self._closed:
            return
        self._pool.submit(self._disconnect)
        self._closed = True
        self._pool.shutdown(wait=True)


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
