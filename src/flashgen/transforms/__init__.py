"""Invertible preprocessing fitted on the training table and saved inside the model file.

A :class:`Pipeline` maps named physical columns (GeV, rad, counts) to the standardised matrix a
network sees, shape ``(n_events, n_model_columns)``, and back. It is a sequence of
:class:`Transform` steps that act on a dict ``column name -> tensor of shape (n_events,)``; a step
may read condition columns (e.g. a residual with respect to the true value), drop columns it can
rebuild (an on-shell energy) or add noise that its inverse removes exactly (dequantisation).
Everything works on torch tensors so that the inverse is differentiable where it can be
(``exact=False``), which the GAN's physics regression terms use.

Every step's constructor arguments and fitted numbers round-trip through :meth:`Transform.state`
(plain Python values), so a model file needs no pickled code.
"""

from .pipeline import Columns, Pipeline, Transform
from .columns import (AbsoluteValue, Asinh, Dequantize, GaussianSmear, Log, Logit, Multiplicity,
                      Residual, SortDescending, ZeroPadding)
from .kinematics import (AzimuthalRotation, DimuonMass, DimuonMassInAcceptance, MatchedObjects, OnShellEnergy,
                         PairMomentum, SortObjects)
from .symmetry import Reflection
from .columns import Angle, BoundedIntegers, Clip, Constant, DiscreteValues, Peak, PointMass
from .auto import AutoPlan, ColumnPlan, Plan, plan_columns, plan_table

__all__ = [
    "AbsoluteValue",
    "Angle",
    "Asinh",
    "AutoPlan",
    "AzimuthalRotation",
    "BoundedIntegers",
    "Clip",
    "ColumnPlan",
    "Columns",
    "Constant",
    "Dequantize",
    "DimuonMass",
    "DimuonMassInAcceptance",
    "DiscreteValues",
    "GaussianSmear",
    "Log",
    "Logit",
    "MatchedObjects",
    "Multiplicity",
    "OnShellEnergy",
    "PairMomentum",
    "Peak",
    "Pipeline",
    "Plan",
    "PointMass",
    "Reflection",
    "Residual",
    "SortDescending",
    "SortObjects",
    "Transform",
    "ZeroPadding",
    "plan_columns",
    "plan_table",
]
