"""The quick-look in a process of its own, for the window: its GUI thread never waits on it.

Why a process and not a thread: drizzle's resample (and other C code) holds the GIL for half a
second at a time on a 2048² frame, which would freeze the window. The child runs ``QuickLook``
("spawn", never fork: the window has threads) and sends through one pipe:

- ``("row", NightRow)`` whenever a row changes, ``("log", level, text)`` for warnings and
  errors, ``("error", text)`` if the watch cannot go on, and at the end ``("stopped",)``;
- ``("result", n)`` for a calibrated product, followed by its pickle (protocol 5) and the ``n``
  array buffers of it, each as its own message: the receiver reads them into bytearrays and
  unpickles without copying (``pickle.loads(..., buffers=...)``), so no single call holds the
  receiver's GIL for long (a 2048² product is ~370 MB).

``QuickLookProcess.messages()`` yields those (the results as ``("result", ProductResult)``)
until the child has stopped; ``retry``, ``set_config`` and ``stop`` may be called from any
thread. ``stop`` lets the product being run stop at its next check (nothing of it is written),
and ends the child if it has not stopped within ``STOP_GRACE`` seconds.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
from collections.abc import Iterator

from .cancel import CancelToken
from .config import PipelineConfig

#: seconds the child gets to stop by itself
STOP_GRACE = 10.0


class _EventCancel(CancelToken):
    """A CancelToken on a multiprocessing Event (set by the window's process)."""

    def __init__(self, event) -> None:
        self._event = event


class _PipeLog(logging.Handler):
    def __init__(self, send) -> None:
        super().__init__(logging.WARNING)
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.send(("log", record.levelno, record.getMessage()))
        except Exception:  # noqa: BLE001 - the window has gone: nothing to tell
            pass


def _send_result(connection, result) -> None:
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
    connection.send(("result", len(buffers)))
    connection.send_bytes(data)
    for buffer in buffers:
        connection.send_bytes(buffer.raw())


def _child(connection, control, stop_event, settings, config) -> None:
    import signal

    from ..report.night_checks import night_measurements
    from .quicklook import QuickLook

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the window decides, through stop_event
    root = logging.getLogger("iris_gui")
    root.handlers[:] = [_PipeLog(connection.send)]
    root.setLevel(logging.INFO)
    root.propagate = False
    try:
        quicklook = QuickLook(settings, config, measure=night_measurements,
                              on_row=lambda row: connection.send(("row", row)),
                              on_result=lambda result: _send_result(connection, result))
        quicklook.cancel = _EventCancel(stop_event)
        quicklook.start()
        while not stop_event.is_set():
            while True:
                try:
                    kind, value = control.get_nowait()
                except queue.Empty:
                    break
                if kind == "retry":
                    quicklook.request_retry(value)
                elif kind == "config":
                    quicklook.config = value.copy()
            quicklook.poll_once()
            stop_event.wait(settings.poll_seconds)
    except Exception as exc:  # noqa: BLE001 - the window shows it; the child ends
        try:
            connection.send(("error", str(exc)))
        except Exception:  # noqa: BLE001
            pass
    finally:
        try:
            connection.send(("stopped",))
        except Exception:  # noqa: BLE001
            pass
        connection.close()


class QuickLookProcess:
    def __init__(self, settings, config: PipelineConfig) -> None:
        context = multiprocessing.get_context("spawn")
        self._receiver, sender = context.Pipe(duplex=False)
        self._control = context.Queue()
        self._stop = context.Event()
        self.process = context.Process(target=_child, name="iris-quicklook", daemon=True,
                                       args=(sender, self._control, self._stop, settings,
                                             config.copy()))
        self.process.start()
        sender.close()  # the child's end: EOF here once the child has gone

    def messages(self) -> Iterator[tuple]:
        """Every message of the child, until it has stopped (call from one thread)."""
        receiver = self._receiver
        while True:
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                return
            if message[0] == "result":
                data = receiver.recv_bytes()
                buffers = []
                for _ in range(message[1]):
                    # sized by the message itself; writable, so the arrays are too
                    buffers.append(bytearray(receiver.recv_bytes()))
                yield ("result", pickle.loads(data, buffers=buffers))
                continue
            yield message
            if message[0] == "stopped":
                return

    def retry(self, path: str) -> None:
        self._control.put(("retry", path))

    def set_config(self, config: PipelineConfig) -> None:
        self._control.put(("config", config.copy()))

    def stop(self, wait: bool = True) -> None:
        """Ask the child to stop; with ``wait``, wait for it (ending it after STOP_GRACE)."""
        self._stop.set()
        if wait:
            self.process.join(STOP_GRACE)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(2.0)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()
