"""The command line hashes its inputs in the background; the writer then takes the digests from
the per-process cache, the same as hashing the files itself."""

from __future__ import annotations

import hashlib

from iris_gui.engine import provenance
from iris_gui.engine.checksum_prefetch import prefetch_checksums


def test_prefetched_digests_are_the_files_sha256_and_served_from_the_cache(tmp_path, monkeypatch):
    paths = []
    for k in range(3):
        path = tmp_path / f"f{k}.fits"
        path.write_bytes(bytes([k]) * (3 << 20))
        paths.append(str(path))
    thread = prefetch_checksums(paths + paths[:1])  # a path twice: hashed once
    thread.join(timeout=30)
    assert not thread.is_alive() and thread.daemon

    def no_reading(*args, **kwargs):
        raise AssertionError("hashed again")

    monkeypatch.setattr(provenance.hashlib, "sha256", no_reading)
    for path in paths:
        with open(path, "rb") as handle:
            expected = hashlib.new("sha256", handle.read()).hexdigest()
        assert provenance.file_sha256(path) == expected


def test_a_missing_file_does_not_stop_the_others(tmp_path):
    good = tmp_path / "good.fits"
    good.write_bytes(b"x" * 100)
    thread = prefetch_checksums([str(tmp_path / "missing.fits"), str(good)])
    thread.join(timeout=30)
    assert provenance.file_sha256(str(good)) == hashlib.new("sha256", b"x" * 100).hexdigest()
