"""The SAMP client of the window (``SampLink``), used by ``view_samp``: it owns the ``pyvo.samp``
client; every call to the hub runs on its one thread (connecting, listing clients, sending,
starting a hub), so the GUI thread never waits on the network; what comes back, and what other
clients send, reaches the GUI thread by queued signals (``status``, ``clientsChanged``,
``imageReceived``)."""

from __future__ import annotations

import logging
import sys
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QObject, Signal

from .. import __version__
from ..display import samp_messages as sm

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
