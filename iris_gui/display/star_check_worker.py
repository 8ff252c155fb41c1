"""The star check's measuring process: ``python -m iris_gui.display.star_check_worker``.

It reads requests on stdin and answers on stdout, each a pickle preceded by its length (8
bytes, little-endian): a request is ``(name, args, kwargs)`` of one of ``TASKS``, an answer
``("ok", result)`` or ``("error", exception)``. It ends when stdin closes (the GUI exited).
Anything a library prints goes to stderr, so stdout carries the answers only.

Started as a module of its own (not ``multiprocessing``): nothing of the program that started
it is imported again, whatever its main script looks like.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import BinaryIO

HEADER = 8


def _import_photutils() -> bool:
    import photutils.aperture  # noqa: F401
    import photutils.centroids  # noqa: F401
    import photutils.psf  # noqa: F401

    return True


def _measure_star(*args, **kwargs):
    from .star_check import measure_star

    return measure_star(*args, **kwargs)


def _measure_check(*args, **kwargs):
    from .star_check import measure_check

    return measure_check(*args, **kwargs)


TASKS = {"warm_up": _import_photutils, "measure_star": _measure_star,
         "measure_check": _measure_check}


def write_message(stream: BinaryIO, message) -> None:
    write_payload(stream, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def write_payload(stream: BinaryIO, payload: bytes) -> None:
    stream.write(len(payload).to_bytes(HEADER, "little") + payload)
    stream.flush()


def read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    while True:
        header = read_exactly(requests, HEADER)
        if header is None:
            return
        payload = read_exactly(requests, int.from_bytes(header, "little"))
        if payload is None:
            return
        try:
            name, args, kwargs = pickle.loads(payload)
            answer = ("ok", TASKS[name](*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - sent back, raised in the GUI's thread
            answer = ("error", exc)
        try:
            write_message(answers, answer)
        except Exception as exc:  # noqa: BLE001 - an answer that cannot be pickled
            write_message(answers, ("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


def main() -> None:
    if hasattr(os, "nice"):
        # background work: on a busy machine the GUI thread gets the processor first
        os.nice(10)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())   # prints go to stderr from here on
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
