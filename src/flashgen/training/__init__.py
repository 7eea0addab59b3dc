"""Training: the one loop (:class:`Trainer`), typed settings (:class:`TrainConfig` of the loop,
:class:`TrainSettings` of a call), and :func:`train`, which fits a model file. Presets (training
defaults per dataset) are declared by each source's profile
(:data:`flashgen.sources.registry.PRESETS`)."""

from .fit import Checkpoint, Columns, Split, TrainSettings, train
from .trainer import TrainConfig, TrainResult, Trainer

__all__ = ["Checkpoint", "Columns", "Split", "TrainConfig", "TrainResult", "TrainSettings", "Trainer", "train"]
