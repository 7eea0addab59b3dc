"""Training: the one loop (:class:`Trainer`), presets, and :func:`train`, which fits a model file."""

from .fit import train
from .presets import PRESETS, Preset
from .trainer import TrainConfig, TrainResult, Trainer

__all__ = ["PRESETS", "Preset", "TrainConfig", "TrainResult", "Trainer", "train"]
