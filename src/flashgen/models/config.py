"""Typed settings of a model family: one frozen dataclass per family, subclassing :class:`ModelConfig`.

Each family declares its settings in its own file (``FlowConfig`` in ``flow.py``, ...) as fields
with a type annotation, a real default and, through :func:`setting`, the range or the choices they
allow. The class is attached to the model as ``config_class``, so the registry knows it. Presets,
``flashgen train --set NAME=VALUE`` and the model file all go through it:

* values may be Python values (presets, the API, a model file: lists become tuples) or text
  (``--set``), parsed into the field's type: ``8``; ``1e-3``; ``true``/``false``; ``64,64``,
  ``64x64`` or ``(64, 64)`` for a tuple; ``none`` for an optional setting;
* every value is checked in ``__post_init__`` (type, range, NaN/inf, choices) and an unknown name
  is refused, each with one line naming the setting, the bad value and what is allowed
  (:class:`~flashgen.errors.FlashgenError`).

Modelled on sbi's ``estimator_configs.py``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from ..errors import FlashgenError

__all__ = ["ModelConfig", "Rule", "setting"]

_RULE = "flashgen.rule"
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Rule:
    """What a numeric setting (or each element of a tuple setting) or a text setting allows.

    Arguments:
        minimum, maximum: inclusive bounds; above, below: exclusive bounds.
        choices: allowed texts.
    """

    minimum: float | None = None
    above: float | None = None
    below: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def allows(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        return ((self.minimum is None or value >= self.minimum) and (self.above is None or value > self.above)
                and (self.below is None or value < self.below) and (self.maximum is None or value <= self.maximum))

    def describe(self) -> str:
        """``">= 1"``, ``"in [0, 1)"``, ... (empty without bounds)."""
        low = (f"[{self.minimum:g}" if self.minimum is not None else
               f"({self.above:g}" if self.above is not None else None)
        high = (f"{self.maximum:g}]" if self.maximum is not None else
                f"{self.below:g})" if self.below is not None else None)
        if low and high:
            return f"in {low}, {high}"
        if low:
            return (">= " if low[0] == "[" else "> ") + low[1:]
        if high:
            return ("<= " if high[-1] == "]" else "< ") + high[:-1]
        return ""


def setting(default: Any, *, minimum: float | None = None, above: float | None = None,
            below: float | None = None, maximum: float | None = None,
            choices: Sequence[str] = ()) -> Any:
    """A config field with its default and what it allows (see :class:`Rule`)."""
    return field(default=default, metadata={_RULE: Rule(minimum, above, below, maximum, tuple(choices))})


class _Bad(Exception):
    """A value that does not convert; the message says what is allowed."""


def _optional(tp: Any) -> Any | None:
    """``X`` of ``X | None``, else ``None``."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        return rest[0] if len(rest) == 1 else None
    return None


def _allowed(tp: Any, rule: Rule) -> str:
    """What a value of type ``tp`` under ``rule`` may be, in words."""
    inner = _optional(tp)
    if inner is not None:
        return f"{_allowed(inner, rule)}, or none"
    bounds = rule.describe()
    if tp is bool:
        return "true or false"
    if tp is int:
        return f"an integer {bounds}".rstrip()
    if tp is float:
        return f"a finite number {bounds}".rstrip()
    if tp is str:
        return f"one of {', '.join(rule.choices)}" if rule.choices else "a text"
    args = typing.get_args(tp)
    what = "integers" if args[0] is int else "numbers"
    example = "64,64" if args[0] is int else "0.5,0.9"
    count = f"{len(args)} " if args[-1] is not Ellipsis else ""
    return f"{count}{what} {bounds} separated by commas (e.g. {example})".replace("  ", " ")


def _scalar(value: Any, tp: Any, rule: Rule) -> Any:
    """``value`` (Python value or text) as ``tp`` (bool, int, float or str), checked by ``rule``."""
    if isinstance(value, str) and tp is not str:
        text = value.strip().strip("'\"").strip()
        if tp is bool:
            if text.lower() not in _TRUE + _FALSE:
                raise _Bad
            value = text.lower() in _TRUE
        else:
            try:
                value = int(text) if tp is int and text.lstrip("+-").isdigit() else float(text)
            except ValueError:
                raise _Bad from None
    if tp is bool:
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        raise _Bad
    if tp is str:
        if not isinstance(value, str):
            raise _Bad
        value = value.strip().strip("'\"")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad
    elif not math.isfinite(value):
        raise _Bad
    elif tp is int:
        if value != int(value):
            raise _Bad
        value = int(value)
    elif tp is float:
        value = float(value)
    if not rule.allows(value):
        raise _Bad
    return value


def _convert(value: Any, tp: Any, rule: Rule) -> Any:
    """``value`` as the field type ``tp``; :class:`_Bad` when it is not allowed."""
    inner = _optional(tp)
    if inner is not None:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
            return None
        return _convert(value, inner, rule)
    if typing.get_origin(tp) is not tuple:
        return _scalar(value, tp, rule)
    args = typing.get_args(tp)
    if isinstance(value, str):
        text = value.strip().strip("()[]")
        parts = text.replace("x", ",").split(",") if text else []
        value = parts[:-1] if len(parts) > 1 and not parts[-1].strip() else parts  # "64," is (64,)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _Bad
    if args[-1] is not Ellipsis and len(value) != len(args):
        raise _Bad
    return tuple(_scalar(v, args[0], rule) for v in value)


def _shown(value: Any) -> str:
    """A value as the user typed it (text), else its repr (also for text that does not print)."""
    return value if isinstance(value, str) and value.isprintable() and value.strip() == value else repr(value)


@dataclass(frozen=True)
class ModelConfig:
    """Base of the settings of a model family (a frozen dataclass; see the module docstring).

    Subclasses are ``@dataclass(frozen=True)`` with fields declared by :func:`setting`.
    ``family`` names the model in messages (set by :func:`flashgen.models.register`).
    """

    family: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            rule = f.metadata.get(_RULE, Rule())
            try:
                converted = _convert(value, hints[f.name], rule)
            except _Bad:
                raise FlashgenError(f"bad {self._owner()} setting {f.name}={_shown(value)}: must be "
                                    f"{_allowed(hints[f.name], rule)}") from None
            object.__setattr__(self, f.name, converted)

    @classmethod
    def _owner(cls) -> str:
        return cls.family or cls.__name__

    @classmethod
    def names(cls) -> list[str]:
        """The settings' names, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    def updated(self, values: Mapping[str, Any]) -> Self:
        """A copy with ``values`` (Python values or text) replacing settings; unknown names refused."""
        unknown = [str(n) for n in values if n not in self.names()]
        if unknown:
            raise FlashgenError(f"unknown {self._owner()} setting {', '.join(map(repr, unknown))}; "
                                f"known: {', '.join(self.names())}")
        return dataclasses.replace(self, **values)

    @classmethod
    def build(cls, *layers: ModelConfig | Mapping[str, Any] | None) -> Self:
        """The defaults, then each layer in turn: a config of this family replaces everything,
        a mapping replaces the settings it names (e.g. a preset's config, then ``--set`` values)."""
        config = cls()
        for layer in layers:
            if layer is None:
                continue
            if isinstance(layer, ModelConfig):
                if not isinstance(layer, cls):
                    raise FlashgenError(f"{type(layer).__name__} holds settings of model "
                                        f"'{layer._owner()}', not of {cls._owner()}")
                config = layer
            else:
                config = config.updated(layer)
        return config

    def plain(self) -> dict[str, Any]:
        """The settings as plain values (tuples as lists), as saved in a model file."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
