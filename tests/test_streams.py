"""Every random component draws from its own stream: numpy reads a seed ``[s, 0]`` as ``s``, so two-word keys
met the variation's ``default_rng(variation_seed)`` and each other whenever the seeds were equal -- as every
``Repeat`` draw makes them (``Hardware.redrawn``). The keys now differ in a third, non-zero word."""

from __future__ import annotations

import numpy as np

import pyims
from pyims.devices import PCM
from pyims.mapping import map_network
from pyims.mapping.network import DEVICE_STREAM
from pyims.model import MLP, NeuronSpec


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_variation_device_and_converter_streams_are_apart_for_equal_seeds():
    n = 20_000
    for s in (0, 12345):
        variation = np.random.default_rng(s).standard_normal(n)  # the mapping's variation stream
        device = np.random.default_rng([s, 0, DEVICE_STREAM]).standard_normal(n)  # layer 0's device stream
        gain, offset = pyims.Adc(bits=8, seed=s, gain_error_sigma_ratio=1.0, offset_lsb_sigma=1.0).errors(0, 1, n)
        streams = {"variation": variation, "device": device, "adc gain": gain[0], "adc offset": offset[0]}
        names = list(streams)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                assert abs(_corr(streams[a], streams[b])) < 5.0 / np.sqrt(n), (s, a, b)  # independent: |r| ~ 1/sqrt(n)


def test_a_redrawn_mapping_draws_programming_noise_apart_from_variation():
    """Equal weights, variation and PCM programming noise on one seed (what redrawn sets): the programmed
    conductances' log-deviation is not the variation's draw (they were identical before the streams were apart)."""
    w = np.full((400, 50), 0.5)
    mlp = MLP(weights=(w,), biases=(np.zeros(50),), neuron=NeuronSpec(kind="relu"))
    spec = pyims.DeviceSpec(kind="pcm", variation_sigma_ratio=0.1, params={"read_noise_scale_ratio": 0.0})
    hw = pyims.Hardware(devices=spec, topology="tiled").redrawn(12345)
    g = map_network(mlp, hw).layers[0].g_pos_s[:400]  # the weight rows (the bias row apart)
    target = PCM().g_range_s[1] * 1.0  # every weight is the largest: g_max
    variation = np.random.default_rng(12345).standard_normal((401, 50))[:400]  # G+ draws first, row by row
    varied = target * np.exp(0.1 * variation)
    programming = (g - varied) / PCM().prog_sigma_s(varied)  # the programming noise's normals, where not clipped
    assert abs(_corr(programming, variation)) < 0.05
    assert 0.9 < np.std(programming) < 1.1  # and they are the programming noise: unit normals
