"""Bridges between rnnkit and other formats and frameworks.

Each bridge is its own module, imported by name (nothing is imported here, so that
an optional dependency is needed only by the bridge that uses it):

* :mod:`rnnkit.interop.onnx`: export a model to an ONNX file that onnxruntime runs
  (``pip install rnnkit[onnx]``).
"""
