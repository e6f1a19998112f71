"""The two C extensions (the Sigma prefilter's per-event loops, the normalisers' model build and dict looks);
everything else is in pyproject.toml.

``optional``: where no C compiler is present the install still succeeds and the same logic runs in Python
(``secustream.analyzer.sigma.engine.NATIVE_PREFILTER`` and ``secustream.native.NATIVE`` say which;
docs/sigma.md "Prefilter").
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("secustream.analyzer.sigma._scan", ["services/secustream/analyzer/sigma/_scan.c"], optional=True),
    Extension("secustream._native", ["services/secustream/_native.c"], optional=True),
])
