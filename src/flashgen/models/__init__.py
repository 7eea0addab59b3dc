"""Generative models behind one interface, and the model file that bundles one with its
preprocessing: :class:`FlashModel`.

Each model family is one module of this package whose class registers itself with
``@register("name")`` (:func:`flashgen.models.interface.register`); every module here is imported
below, so a new model is one new file (plus its tests) and appears in :data:`MODELS`, the
command-line choices and the contract test without further edits.
"""

import importlib
import pkgutil

from .interface import MODELS, GenerativeModel, Trainable, get_model, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f".{_module.name}", __name__)

from .efficiency import EfficiencyClassifier  # noqa: E402
from .flashmodel import FlashModel  # noqa: E402
from .ensemble import EnsembleModel, load_model  # noqa: E402
from .gan import RegressionTerm  # noqa: E402

DEFAULT_MODEL = "flow"
"""The family used when none is named: the most faithful on every reference source (README)."""
COMPARED_MODELS = ("flow", "gan")
"""The families a study compares by default (``flashgen amplify``): the most faithful model and
the GAN of the amplification paper."""

__all__ = ["COMPARED_MODELS", "DEFAULT_MODEL", "EfficiencyClassifier", "EnsembleModel", "FlashModel", "GenerativeModel", "MODELS",
           "RegressionTerm", "Trainable", "get_model", "load_model", "register"]
