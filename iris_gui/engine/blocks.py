"""Run array work in row blocks on a small thread pool.

Whole-frame numpy expressions on 4096² float32 arrays are memory-bound (~10 ms each, one core).
Doing the same arithmetic on blocks of rows that fit in the CPU cache, on both cores, is several
times faster, and gives natural points to report progress and honour a cancel request.
numpy releases the GIL inside its loops, so threads are enough.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .cancel import CancelToken, check_cancel
from .cores import core_budget

#: Elements per block: ~256 K float32 values keep a handful of operands within L2.
BLOCK_ELEMENTS = 1 << 18


def worker_count() -> int:
    """Threads to use: the process's core budget (``cores``)."""
    return core_budget()


def rows_per_block(row_elements: int, target: int = BLOCK_ELEMENTS) -> int:
    """How many rows of ``row_elements`` values make one cache-sized block."""
    return max(1, target // max(1, row_elements))


def run_row_blocks(
    n_rows: int,
    block_rows: int,
    work: Callable[[slice], None],
    *,
    progress: Callable[[float], None] | None = None,
    cancel: CancelToken | None = None,
    workers: int | None = None,
) -> None:
    """Call ``work(rows)`` for consecutive row slices covering ``range(n_rows)``.

    ``work`` must write only into its own rows of preallocated outputs. Progress is reported as a
    fraction 0..1 from the calling thread; a cancel request stops the remaining blocks and raises
    Cancelled.
    """
    slices = [slice(start, min(start + block_rows, n_rows)) for start in range(0, n_rows, block_rows)]
    if not slices:
        return
    workers = worker_count() if workers is None else workers
    check_cancel(cancel)
    if workers <= 1 or len(slices) == 1:
        for index, rows in enumerate(slices):
            check_cancel(cancel)
            work(rows)
            if progress is not None:
                progress((index + 1) / len(slices))
        return

    def guarded(rows: slice) -> None:
        if cancel is not None and cancel.cancelled:
            return
        work(rows)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="iris-blocks") as pool:
        futures = [pool.submit(guarded, rows) for rows in slices]
        try:
            for index, future in enumerate(futures):
                future.result()
                if progress is not None:
                    progress((index + 1) / len(futures))
                check_cancel(cancel)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def run_image_blocks(
    shape: tuple[int, ...],
    work: Callable[[tuple, slice], None],
    *,
    progress: Callable[[float], None] | None = None,
    cancel: CancelToken | None = None,
) -> None:
    """Call ``work(index, rows)`` over a 2D (ny, nx) or 3D (nints, ny, nx) image in row blocks.

    ``index`` selects the block in arrays of ``shape`` (``(rows,)`` or ``(plane, rows)``) and
    ``rows`` selects the same rows of 2D per-pixel arrays such as references, so one kernel
    serves rate and rateints data without copying references per integration.
    """
    ny, nx = shape[-2:]
    planes = shape[0] if len(shape) == 3 else None
    block = rows_per_block(nx)
    if planes is None:
        run_row_blocks(ny, block, lambda rows: work((rows,), rows), progress=progress,
                       cancel=cancel)
        return
    # Flatten (plane, row) into one sequence of blocks so both cores stay busy on small cubes.
    blocks_per_plane = -(-ny // block)

    def flat_work(flat_rows: slice) -> None:
        for number in range(flat_rows.start, flat_rows.stop):
            plane, b = divmod(number, blocks_per_plane)
            rows = slice(b * block, min((b + 1) * block, ny))
            work((plane, rows), rows)

    run_row_blocks(planes * blocks_per_plane, 1, flat_work, progress=progress, cancel=cancel)
