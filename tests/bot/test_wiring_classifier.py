"""An operator's retrained classifier that this version cannot read does not stop the bot."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from bot.settings import Settings
from bot.wiring import make_classifier
from routing.classify import Classifier, ModelFileError
from routing.classify.model import DEFAULT_MODEL_PATH


def _earlier_version_model(path: Path) -> None:
    """The shipped model as an earlier version would have written it: other cue features."""
    with np.load(DEFAULT_MODEL_PATH, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    meta["cues"] = ["a_cue_this_version_does_not_compute"]
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize("damage", ["earlier_version", "not_a_model"])
def test_an_unreadable_retrained_model_falls_back_to_the_shipped_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    settings = Settings(data_dir=tmp_path, llm=None, _env_file=None)  # type: ignore[call-arg]
    model_file = tmp_path / "classifier.npz"
    if damage == "earlier_version":
        _earlier_version_model(model_file)
    else:
        model_file.write_bytes(b"not a zip file")
    with pytest.raises(ModelFileError):
        Classifier.load(model_file)
    with caplog.at_level(logging.WARNING, logger="bot.wiring"):
        classifier = make_classifier(settings)
    assert isinstance(classifier, Classifier)
    shipped = Classifier.load(None)
    assert classifier.categories == shipped.categories
    assert np.array_equal(classifier.category_weights, shipped.category_weights)
    assert "comptoir classifier train" in caplog.text and str(model_file) in caplog.text
    assert model_file.exists()  # left for the operator to retrain, not deleted
