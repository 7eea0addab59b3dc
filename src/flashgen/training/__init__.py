"""Training: the one loop (:class:`Trainer`), typed settings, and :func:`train`, which fits a model
file. Presets (training defaults per dataset) are declared by each source's profile
(:data:`flashgen.sources.registry.PRESETS`)."""

from .fit import Split, train
from .trainer import TrainConfig, TrainResult, Trainer

__all__ = ["Split", "TrainConfig", "TrainResult", "Trainer", "train"]
