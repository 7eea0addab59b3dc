"""Generative models behind one interface, and the model file that bundles one with its
preprocessing: :class:`FlashModel`."""

from .base import GenerativeModel, Trainable
from .efficiency import EfficiencyClassifier
from .flashmodel import MODELS, FlashModel
from .flow import Flow
from .gan import GAN, RegressionTerm
from .wgan_gp import WGANGP

__all__ = ["EfficiencyClassifier", "Flow", "FlashModel", "GAN", "GenerativeModel", "MODELS",
           "RegressionTerm", "Trainable", "WGANGP"]
