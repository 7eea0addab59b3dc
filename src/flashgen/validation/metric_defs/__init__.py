"""The validation metrics, one module each, registered in
:data:`flashgen.validation.metric_registry.METRICS`.

Every module of this package is imported below, so a new metric is one new file here that calls
:func:`~flashgen.validation.metric_registry.register` (plus its test); :mod:`..compare`, the
report and the summary pick it up with no other edit.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f".{_module.name}", __name__)
