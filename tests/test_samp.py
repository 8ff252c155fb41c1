"""SAMP: the Qt-free messages and files (display.samp_messages), and the window's SAMP menu
against a hub started here on loopback (pyvo.samp), its lock file in the test's folder (never
the user's ~/.samp): a second client stands in for DS9 and receives image.load.fits (a FITS
whose WCS is the pane's), ds9.set regions and coord.pointAt.sky; the window receives
image.load.fits and opens the file as an input; with no hub the status bar says so; "Start a
hub" starts one only when asked and stops it at close."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from iris_gui.display import samp_messages as sm

pytest.importorskip("pytestqt")
samp = pytest.importorskip("pyvo.samp")
samp.conf.use_internet = False


# ---- messages and files ------------------------------------------------------------------------
def test_messages_carry_file_urls_and_sky_positions_as_text(tmp_path):
    path = tmp_path / "a b.fits"
    path.write_bytes(b"")
    message = sm.image_message(path, "demo After", image_id="001_x")
    assert message == {"samp.mtype": "image.load.fits", "samp.params": {
        "url": path.resolve().as_uri(), "name": "demo After", "image-id": "001_x"}}
    assert message["samp.params"]["url"].startswith("file:///") and "a%20b" in \
        message["samp.params"]["url"]
    assert sm.point_at_message(370.25, -12.5) == {
        "samp.mtype": "coord.pointAt.sky", "samp.params": {"ra": "10.25", "dec": "-12.5"}}
    with pytest.raises(sm.SampMessageError, match="not a sky position"):
        sm.point_at_message(10.0, 91.0)
    assert sm.ds9_regions_message("/tmp/r.reg")["samp.params"] == {"cmd": "regions load /tmp/r.reg"}
    assert sm.ds9_regions_message(tmp_path / "my regions.reg")["samp.params"]["cmd"] == \
        f"regions load {{{tmp_path / 'my regions.reg'}}}"


def test_received_urls_must_be_local_files(tmp_path):
    path = tmp_path / "x y.fits"
    path.write_bytes(b"SIMPLE")
    assert sm.local_path(path.as_uri()) == str(path)
    assert sm.local_path(f"file://localhost{path}") == str(path)
    for url, why in (("http://example.org/x.fits", "does not download from http"),
                     (f"file://otherhost{path}", r"on another host \(otherhost\)"),
                     ((tmp_path / "gone.fits").as_uri(), "no such file"), ("", "no url")):
        with pytest.raises(sm.SampMessageError, match=why):
            sm.local_path(url)


def test_a_frame_file_has_the_pixels_and_the_wcs(tmp_path):
    from iris_gui.engine.wcs import tan_wcs

    wcs = tan_wcs((150.0, 2.2), (32.5, 24.5), 0.004 / 3600, 25.0)
    frame = np.arange(48 * 64, dtype=np.float64).reshape(48, 64)
    header = fits.Header([("INSTRUME", "IRIS"), ("FILTER", "K"), ("NOTHING", 1)])
    files = sm.SampFiles()
    path = files.write_frame(frame, "demo flat_field After (output)", wcs=wcs, header=header)
    assert path.parent == files.folder and path.name == "001_demo_flat_field_After_output.fits"
    with fits.open(path) as hdul:
        assert np.array_equal(hdul[0].data, frame.astype(np.float32))
        assert hdul[0].header["OBJECT"] == "demo flat_field After (output)"
        assert hdul[0].header["FILTER"] == "K" and "NOTHING" not in hdul[0].header
        written = WCS(hdul[0].header)
    pixels = np.array([[0, 0], [63, 47], [10.5, 30.25]])
    assert np.allclose(written.all_pix2world(pixels, 0), wcs.all_pix2world(pixels, 0),
                       atol=1e-10, rtol=0)
    folder = files.folder
    files.cleanup()
    assert not folder.exists()


def test_a_frame_is_written_in_blocks_the_same_bytes_as_astropy_writes(tmp_path, monkeypatch):
    """Streamed a few rows at a time (so the window's thread is not kept waiting), the file is
    byte for byte the one astropy's writeto makes, the last short block and padding included."""
    frame = np.random.default_rng(1).normal(100, 5, (37, 29)).astype(np.float32)
    frame[3, 4] = np.nan
    monkeypatch.setattr(sm, "STREAM_BYTES", 29 * 4 * 5)          # 5 rows a block: 8 blocks
    files = sm.SampFiles()
    path = files.write_frame(frame, "blocks")
    expected = tmp_path / "whole.fits"
    sm.frame_hdul(frame, title="blocks").writeto(expected)
    assert path.read_bytes() == expected.read_bytes()
    assert path.stat().st_size % 2880 == 0
    files.cleanup()


def test_a_frame_that_fails_to_write_leaves_no_file(monkeypatch):
    files = sm.SampFiles()
    from astropy.io import fits as astropy_fits

    def broken(self, data):
        raise OSError("disk full")

    monkeypatch.setattr(astropy_fits.StreamingHDU, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        files.write_frame(np.zeros((8, 8), np.float32), "broken")
    assert list(files.folder.iterdir()) == []
    files.cleanup()


# ---- against a hub -------------------------------------------------------------------------------
@pytest.fixture()
def hub_lock(tmp_path, monkeypatch):
    """Where this test's hub writes its lock file; SAMP_HUB points every client there."""
    lock = tmp_path / "samp-lock"
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{lock.as_uri()}")
    return lock


@pytest.fixture()
def hub(hub_lock):
    server = samp.SAMPHubServer(web_profile=False, addr="127.0.0.1", lockfile=str(hub_lock))
    server.start()
    yield server
    server.stop()


class FakeDS9:
    """A client named ds9 taking what DS9 takes; keeps every message it is sent."""

    MTYPES = ("image.load.fits", "ds9.set", "coord.pointAt.sky")

    def __init__(self, name="ds9") -> None:
        self.client = samp.SAMPIntegratedClient(name=name, addr="127.0.0.1")
        self.client.connect()
        self.got: list[tuple[str, dict]] = []
        self.arrived = threading.Event()
        for mtype in self.MTYPES:
            self.client.bind_receive_notification(mtype, self._notified)

    def _notified(self, private_key, sender_id, mtype, params, extra) -> None:
        self.got.append((mtype, params))
        self.arrived.set()

    def wait(self, qtbot, count=1):
        qtbot.waitUntil(lambda: len(self.got) >= count, timeout=10_000)
        return self.got[count - 1]

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture()
def ds9(hub):
    client = FakeDS9()
    yield client
    client.close()


@pytest.fixture()
def view(qtbot):
    from test_inspection_view import on_screen

    from iris_gui.gui.image_view import StepImageView

    yield from on_screen(qtbot, StepImageView())


@pytest.fixture()
def commands(qtbot, view):
    from iris_gui.gui.view_samp import SampCommands

    opened, said = [], []
    cmds = SampCommands(view, opened.extend, said.append)
    cmds.opened, cmds.said = opened, said
    yield cmds
    cmds.shutdown()


def settle_samp(qtbot, commands):
    qtbot.waitUntil(lambda: not commands.link.busy, timeout=15_000)


def test_a_pane_frame_reaches_ds9_as_a_fits_with_its_wcs(qtbot, view, commands, ds9):
    from test_inspection_view import hand_result, shown

    result = shown(qtbot, view, hand_result())
    after = result.steps["flat_field"].model
    assert commands.send_frame("B")
    mtype, params = ds9.wait(qtbot)
    settle_samp(qtbot, commands)
    assert mtype == "image.load.fits" and params["name"] == "hand flat_field After (output)"
    path = sm.local_path(params["url"])
    assert os.path.dirname(path) == str(commands.files.folder)
    with fits.open(path) as hdul:
        assert np.array_equal(hdul[0].data, after.data, equal_nan=True)
        written = WCS(hdul[0].header)
    pixels = np.array([[0, 0], [20, 10], [63, 47]])
    assert np.allclose(written.all_pix2world(pixels, 0), after.wcs.all_pix2world(pixels, 0),
                       atol=1e-10, rtol=0)
    assert commands.said[-1] == "SAMP: sent pane B's frame (After (output)) to ds9 " \
                                "(image.load.fits)"
    assert commands.link.connected and [n for _, n, _ in commands.link.clients] == ["ds9"]
    folder = commands.files.folder
    commands.shutdown()
    assert not folder.exists()          # the temporary folder goes with the window


def test_regions_and_positions_go_where_they_are_taken(qtbot, view, commands, ds9, hub):
    from test_inspection_view import hand_result, shown

    from iris_gui.state.star_checks import StarCheck, StarMeasure
    from iris_gui.state.view_state import RegionSpec

    shown(qtbot, view, hand_result())
    view.state.regions = (RegionSpec("circle", 20.0, 10.0, 4.0),)
    assert commands.send_regions()
    mtype, params = ds9.wait(qtbot)
    assert mtype == "ds9.set" and params["cmd"].startswith("regions load ")
    region_file = params["cmd"][len("regions load "):]
    text = open(region_file, encoding="utf-8").read()
    assert "fk5" in text and "circle(" in text
    view.state.star_checks = (StarCheck("hand", "flat_field", "A", 20, 10, measures=(
        StarMeasure("A", "Before", x=20.0, y=10.0, ra=150.001, dec=2.2004, flux=1.0),)),)
    assert commands.point_at_star()
    mtype, params = ds9.wait(qtbot, 2)
    assert (mtype, params) == ("coord.pointAt.sky", {"ra": "150.001", "dec": "2.2004"})
    # a chosen recipient that does not take a message is named, nothing sent
    other = samp.SAMPIntegratedClient(name="topcat", addr="127.0.0.1")
    other.connect()
    try:
        commands.link.refresh_clients()
        settle_samp(qtbot, commands)
        qtbot.waitUntil(lambda: len(commands.link.clients) == 2, timeout=10_000)
        topcat = next(cid for cid, name, _ in commands.link.clients if name == "topcat")
        commands.link.recipient = topcat
        commands.send_regions()
        settle_samp(qtbot, commands)
        assert commands.said[-1] == "SAMP: topcat does not take ds9.set"
        assert len(ds9.got) == 2
    finally:
        other.disconnect()


def test_the_window_opens_an_image_sent_to_it(qtbot, window, hub, tmp_path):
    from factories import write_model

    rate = tmp_path / "sent_rate.fits"
    write_model(rate, np.ones((16, 16), np.float32))
    sender = samp.SAMPIntegratedClient(name="Aladin", addr="127.0.0.1")
    sender.connect()
    try:
        window.samp.link.connect_hub()
        qtbot.waitUntil(lambda: window.samp.link.connected, timeout=10_000)
        iris = next(cid for cid in sender.get_registered_clients()
                    if sender.get_metadata(cid).get("samp.name") == "iris_gui")
        assert "image.load.fits" in sender.get_subscriptions(iris)
        replies: dict[str, dict] = {}

        def replied(_key, _responder, tag, response) -> None:  # the sender's server thread
            replies[tag] = response

        def call(path, tag: str) -> dict:
            # asynchronous, as Aladin in its own process: the window's event loop keeps running
            # while the reply comes through the hub's and both clients' threads (a synchronous
            # call_and_wait here blocked the GUI thread and timed out on a loaded machine)
            sender.bind_receive_response(tag, replied)
            sender.call(iris, tag, sm.image_message(path, tag))
            qtbot.waitUntil(lambda: tag in replies, timeout=30_000)
            return replies[tag]

        reply = call(rate, "sent")
        assert reply["samp.status"] == "samp.ok"
        qtbot.waitUntil(lambda: any(p.input_paths == [str(rate)]
                                    for p in window.workbench.all_products), timeout=10_000)
        assert window.samp.received == [str(rate)]
        # a file that is not there: an error reply, a status line, nothing opened
        reply = call(tmp_path / "gone.fits", "gone")
        assert reply["samp.status"] == "samp.error"
        assert "no such file" in reply["samp.error"]["samp.errortxt"]
        qtbot.waitUntil(lambda: "not opened" in window.statusBar().currentMessage(),
                        timeout=10_000)
        assert len(window.workbench.all_products) == 1
    finally:
        sender.disconnect()


def test_no_hub_is_a_status_bar_line_not_a_dialog(qtbot, window, hub_lock):
    window.samp.link.connect_hub()
    qtbot.waitUntil(lambda: not window.samp.link.busy, timeout=10_000)
    assert window.statusBar().currentMessage().startswith("SAMP: no hub is running")
    assert not window.error_dialogs and not window.samp.link.connected
    assert not hub_lock.exists()            # none was started


def test_start_a_hub_only_when_asked_and_stop_it_at_close(qtbot, view, commands, hub_lock):
    commands.start_hub_action.trigger()
    qtbot.waitUntil(lambda: commands.link.connected, timeout=15_000)
    assert hub_lock.exists() and commands.link.started_hub
    assert commands.said[0] == "SAMP: started a hub (stopped when the window closes)"
    commands.shutdown()
    assert not hub_lock.exists()


def test_an_exported_cal_is_sent_by_its_own_path_and_a_missing_one_is_said(qtbot, view, commands,
                                                                            ds9, tmp_path):
    from test_inspection_view import hand_result, shown

    result = shown(qtbot, view, hand_result())
    assert not commands.send_product("cal")
    assert commands.said[-1] == "SAMP: hand has no exported _cal yet (File ▸ Export selected " \
                                "writes it)"
    cal = tmp_path / "hand_cal.fits"
    fits.PrimaryHDU(np.zeros((4, 4), np.float32)).writeto(cal)
    result.outputs = [str(tmp_path / "hand_i2d.fits"), str(cal)]   # the i2d was not written
    assert commands.exported("i2d") is None and commands.exported("cal") == cal
    assert commands.send_product("cal")
    mtype, params = ds9.wait(qtbot)
    assert (mtype, params) == ("image.load.fits", {"url": cal.as_uri(), "name": "hand_cal.fits",
                                                   "image-id": "hand_cal"})
