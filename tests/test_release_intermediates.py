"""A command-line run without a report releases each step's input once the next step has its
output (its arrays become placeholders, their buffers go to the pool): the files it writes are
the same, and what is written (the _bsub, a step's save_results output) is never released."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits

from iris_gui.engine.association import load_association
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.demo import write_demo_dataset
from iris_gui.engine.pipeline import Image2Pipeline


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    write_demo_dataset(folder, size=512, n_backgrounds=3, nints=2)
    return folder


def _released(model) -> bool:
    return model.data.strides == (0,) * model.data.ndim


def _run(demo, out, keep: bool, **settings):
    config = PipelineConfig()
    for key, value in settings.items():
        config.set(key, value)
    product = load_association(str(next(demo.glob("*_asn.json")))).products[0]
    pipeline = Image2Pipeline(config, ref_dir=demo, cache=False, keep_intermediates=keep)
    result = pipeline.run_product(product)
    pipeline.write_outputs(result, out)
    return result


def _arrays(path):
    """Every extension's data and header (but the write time), the provenance's JSON."""
    with fits.open(path) as hdul:
        out = {hdu.name: np.array(hdu.data) for hdu in hdul if hdu.data is not None
               and hdu.name not in ("PROVENANCE", "ASDF")}
        out.update({f"{hdu.name} header": [c for c in hdu.header.cards if c.keyword != "DATE"]
                    for hdu in hdul})
        if "PROVENANCE" in hdul:
            document = json.loads("".join(str(row[0]) for row in hdul["PROVENANCE"].data))
            document.pop("created")
            out["provenance"] = [json.dumps(document, sort_keys=True).replace(
                str(path.parent), "OUT")]
        return out


def test_the_written_files_are_the_same_and_the_intermediates_are_released(demo, tmp_path):
    kept = _run(demo, tmp_path / "kept", True, **{"save_bsub": True})
    lean = _run(demo, tmp_path / "lean", False, **{"save_bsub": True})
    assert kept.ok and lean.ok
    names = sorted(p.name for p in (tmp_path / "kept").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "lean").iterdir())
    assert any(n.endswith("_bsub.fits") for n in names) and any(n.endswith("_i2d.fits")
                                                                for n in names)
    for name in names:
        a, b = _arrays(tmp_path / "kept" / name), _arrays(tmp_path / "lean" / name)
        assert a.keys() == b.keys()
        for extension in a:
            if isinstance(a[extension], np.ndarray):
                np.testing.assert_array_equal(a[extension], b[extension], err_msg=name)
            else:
                assert [str(c) for c in a[extension]] == [str(c) for c in b[extension]]
    # released: the input, and the outputs of the steps in between; kept: the _bsub, the final
    assert _released(lean.input_model) and not _released(kept.input_model)
    assert not _released(lean.bsub)
    assert _released(lean.steps["dark_current"].model)
    assert not _released(lean.final)
    assert lean.input_model.data.shape == kept.input_model.data.shape  # shape still answers
    # the combined background is not written: released; the i2d is: kept
    assert _released(lean.steps["bkg_subtract"].products["background"])
    assert not _released(kept.steps["bkg_subtract"].products["background"])
    assert not _released(lean.steps["resample"].products["i2d"])
    assert np.isnan(lean.input_model.data).all() and (lean.input_model.dq == 0).all()


def test_without_save_bsub_the_bsub_is_released_too_and_a_cached_pipeline_keeps_all(demo,
                                                                                   tmp_path):
    lean = _run(demo, tmp_path / "lean", False,
                **{"steps.dark_current.dark_output": "used_dark.fits"})
    assert _released(lean.bsub) and not _released(lean.final)
    assert not _released(lean.steps["dark_current"].products["dark"])  # written: kept
    with fits.open(tmp_path / "lean" / "used_dark.fits") as hdul:
        assert np.isfinite(hdul["SCI"].data).any()
    config = PipelineConfig()
    assert Image2Pipeline(config, cache=True, keep_intermediates=False).keep_intermediates
