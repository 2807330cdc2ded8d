"""Inference stage: a mapped network run natively or through ngspice, in either mode.

* ``analog`` (fully-analog): the whole network is one circuit; sense amplifiers, differential
  stages, averaging resistors and neurons are circuit elements, and neuron outputs drive the
  next layer's rows.
* ``tiled`` (co-simulation): every tile is simulated on its own with ideal sources and an
  ideal 0 V virtual ground; Python combines partial sums and applies the neuron.
"""

from pyims.inference.native import NativeNetwork
from pyims.inference.result import MODES, NetworkResult
from pyims.inference.spice import SpiceNetwork

__all__ = ["MODES", "NetworkResult", "NativeNetwork", "SpiceNetwork"]
