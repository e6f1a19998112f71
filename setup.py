"""The one C extension (the Sigma prefilter's per-event loops); everything else is in pyproject.toml.

``optional``: where no C compiler is present the install still succeeds and the engine runs the same loops
in Python (``secustream.analyzer.sigma.engine.NATIVE_PREFILTER`` says which; docs/sigma.md "Prefilter").
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("secustream.analyzer.sigma._scan", ["services/secustream/analyzer/sigma/_scan.c"],
                             optional=True)])
