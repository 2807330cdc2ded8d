"""Run one experiment: data -> model -> mapping -> native inference (all test images) ->
ngspice verification (a sample) -> comparison -> output directory.

With ``simulation.repeats`` > 1 the model is mapped and run on that many seeded draws of the hardware
(``pyims.Repeat``'s seeds, as ``pyims.simulate`` draws them); draw 0 is the one reported in full and checked
by ngspice, the summary's ``monte_carlo`` section gives the spread across draws."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyims import __version__
from pyims.compare import accuracy_stats, agreement, confusion_matrix, layer_errors, sample_index
from pyims.data import Dataset, load_dataset
from pyims.experiment.config import ExperimentConfig
from pyims.experiment.preflight import PreflightReport, RunFlags, check_model_fits, check_network_fits, load_config_model, preflight
from pyims.progress import progress_bar
from pyims.experiment.summary import (
    ModelInfo,
    recorded_config,
    Accuracies,
    Agreements,
    ConfusionMatrices,
    DatasetInfo,
    DeviceInfo,
    DrawSeeds,
    EnergyInfo,
    ExperimentSummary,
    InputsInfo,
    LayerErrors,
    MonteCarloInfo,
    NetworkInfo,
    Provenance,
    TileInfo,
    VerificationIncomplete,
    verification_stops,
)
from pyims.errors import SpecError
from pyims.hardware import Hardware
from pyims.inference import NetworkResult
from pyims.inference.simulate import simulate
from pyims.spec.analysis import Dc
from pyims.spec.simulator import NativeOptions
from pyims.inference.infer import forward_chunked
from pyims.inference.verify import verify_against_ngspice
from pyims.mapping import MappedNetwork, map_network
from pyims.model import MLP, Model, as_model, train_mlp

__all__ = ["ExperimentResult", "run_experiment"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ExperimentResult:
    """Everything an experiment produced; ``summary`` is what ``summary.json`` holds (``summary.to_dict()``).

    With ``simulation.repeats`` > 1, ``net``, ``analog``, ``mapped_*`` and ``spice`` are draw 0's;
    ``draw_logits`` holds every draw's outputs ``(n_draws, N, n_outputs)`` and ``draw_seeds`` their seeds
    (``None`` for the one run on the config's own seeds)."""

    config: ExperimentConfig
    dataset: Dataset
    mlp: MLP | Model
    net: MappedNetwork
    digital_pre: list[np.ndarray]
    mapped_pre: list[np.ndarray]
    digital_out: np.ndarray
    mapped_out: np.ndarray
    analog: NetworkResult
    spice: NetworkResult | None
    spice_index: np.ndarray
    summary: ExperimentSummary
    draw_logits: np.ndarray | None = None
    draw_seeds: tuple[int | None, ...] = (None,)


def _model(cfg: ExperimentConfig, ds: Dataset, show: bool | None) -> MLP | Model:
    src = cfg.model
    if src.file is not None or src.source != "train":
        model = load_config_model(cfg)
        if isinstance(model, Model):
            check_model_fits(model, ds.image_shape, ds.n_classes)
            return model
        mlp = model
    else:
        x = cfg.encoding.digital(cfg.encoding.normalized(ds.train.x_norm))
        with progress_bar(cfg.train.epochs, "training", show) as bar:
            def tick(epoch: int, loss: float) -> None:
                bar.set_postfix(loss=f"{loss:.3f}")
                bar.update(1)
            mlp = train_mlp(x, ds.train.y, n_classes=ds.n_classes, neuron=cfg.neuron, spec=cfg.train, progress=tick)
    check_network_fits(mlp.layer_sizes, ds.image_shape, ds.n_classes)
    return mlp


#: Images whose transient energy is computed (its mean is the energy per inference).
ENERGY_IMAGES = 64


def _read_spec(cfg: ExperimentConfig):
    """The ``ReadAt`` analysis of ``simulation.t_read_s`` (its grid, ramp and extra read times)."""
    from pyims.spec.analysis import ReadAt

    sim = cfg.simulation
    return ReadAt(t_read_s=sim.t_read_s, t_rise_s=sim.t_rise_s, t_step_s=sim.t_step_s, read_times_s=sim.read_times_s)


def _read_time(cfg: ExperimentConfig, net: MappedNetwork, dc_logits: np.ndarray, u: np.ndarray, y: np.ndarray,
               *, energy: bool = True):
    """The outputs at ``simulation.t_read_s`` (native read time of ``net`` on its hardware: wires, topology and the
    ADC its DC run calibrated, converting every sample) and what the summary says of them; ``dc_logits``: the
    settled outputs the DC run gave. ``energy=False``: no transient energy (a further Monte Carlo draw)."""
    from pyims.experiment.summary import ReadTimeInfo, ReadTimePoint
    from pyims.inference.read_time import NativeReadTime

    sim = cfg.simulation  # preflight made sure the wires hold capacitance and no read draws fresh noise
    analysis = _read_spec(cfg)
    in_time = net.topology.one_circuit_in_time  # settling and energy follow the waveforms of one circuit
    dc_accuracy = accuracy_stats(dc_logits, y, sim.tie_atol).accuracy
    t0 = time.perf_counter()
    rt = NativeReadTime(net, analysis, options=NativeOptions(energy=energy and sim.energy and in_time))
    build_s = time.perf_counter() - t0
    res = rt.run(u, settling=in_time, energy=False)
    energy = rt.run(u[:ENERGY_IMAGES], energy=True).energy_j if rt.energy else None
    points = []
    for t_read in res.read_times_s:  # the outputs as converted at every reported read time
        st = accuracy_stats(res.at(t_read), y, sim.tie_atol)
        points.append(ReadTimePoint(t_read_s=float(t_read), accuracy=st.accuracy, n_ties=st.n_ties))
    settle = res.settling_s
    pct = {} if settle is None else {name: float(np.percentile(settle, q, method="higher")) for name, q in
                                     (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))}
    info = ReadTimeInfo(
        t_read_s=analysis.t_read_s, t_rise_s=analysis.rise_s, t_step_s=analysis.step_s,
        accuracy=accuracy_stats(res.logits, y, sim.tie_atol).accuracy, accuracy_dc=dc_accuracy, accuracy_at=points,
        settling_s=pct, fraction_settled=float(np.mean(np.isfinite(settle))) if settle is not None else float("nan"),
        latency_s=pct.get("p99", float("nan")),
        energy_per_inference_j=float(np.mean(energy)) if energy is not None else None,
        energy_images=int(min(ENERGY_IMAGES, u.shape[0])) if energy is not None else 0,
        build_s=build_s, run_s=res.wall_time_s,
    )
    result = NetworkResult(pre_norm=res.pre_norm, power_w=None, output=res.logits, backend="native", mode=net.topology.name,
                           wall_time_s=res.wall_time_s, adc=res.adc)
    return result, info


def _steps(model: MLP | Model):
    return model.layers if isinstance(model, MLP) else model.steps


def _draw_seeds(index: int, seed: int | None, hw: Hardware) -> DrawSeeds:
    """The seeds draw ``index`` ran with (``hw``: its hardware)."""
    return DrawSeeds(index=index, seed=seed, device_seed=hw.device.seed, variation_seed=hw.device_spec.variation_seed,
                     adc_seed=hw.adc.seed if hw.adc is not None else None)


def _device_info(cfg: ExperimentConfig, seeds: tuple[int | None, ...]) -> DeviceInfo:
    """The summary's ``device`` section: the config's device, its fields and every draw's seeds."""
    hw = cfg.hardware
    spec = hw.device_spec
    fields = {name: getattr(spec, name) for name in spec.__dataclass_fields__ if name != "params"}
    fields.update(dict(spec.params))
    repeat = cfg.simulation.repeat
    if repeat is None:
        draws = [_draw_seeds(0, None, hw)]
        source = "the config's own: device.seed, device.variation_seed and adc.seed (simulation.repeats = 1)"
    else:
        draws = [_draw_seeds(k, seed, hw.redrawn(seed)) for k, seed in enumerate(seeds)]
        source = (f"pyims.Repeat(n={repeat.n}, seed={repeat.seed}).seeds (simulation.repeat_seed): draw k sets device.seed, "
                  "device.variation_seed and adc.seed to its seed, as pyims.simulate does")
    return DeviceInfo(kind=spec.kind, description=hw.device.describe(), fields=fields, seed=spec.seed,
                      variation_seed=spec.variation_seed, draws=draws, seeds_from=source)


def _native_run(cfg: ExperimentConfig, net: MappedNetwork, u: np.ndarray, y: np.ndarray, *, first: bool,
                show_progress: bool | None):
    """One draw's native inference: DC (its ADC calibrated on its own outputs), then the read time when set.
    Returns ``(result, DC result, net with the calibrated ADC, ReadTimeInfo or None)``. A further draw
    (``first=False``) keeps only the outputs: no pre-activations, no energy."""
    sim = cfg.simulation
    options = NativeOptions(energy=sim.energy and first, workers=sim.native_workers, port_method=sim.port_method)
    if first:
        with progress_bar(None, "native solves (tasks)", show_progress) as bar:
            analog = simulate(net, u, Dc(), options=options, progress=bar.update, status=bar.set_postfix_str)
    else:
        analog = simulate(net, u, Dc(), options=options, keep_pre=False)
    dc = analog
    net = net.on(adc=analog.adc)  # the converter calibrated once: every later run reads with it
    read_time = None
    if sim.t_read_s is not None:
        analog, read_time = _read_time(cfg, net, analog.logits, u, y, energy=first)
    return analog, dc, net, read_time


def _flags_of(cluster) -> RunFlags | None:
    """The ``RunFlags`` a ``SpiceCluster`` stands for (its scheduler, workers and batch store), or ``None``."""
    if cluster is None:
        return None
    return RunFlags(scheduler=cluster.scheduler, workers=cluster.n_workers, batch_store=cluster.store_dir)


def run_experiment(cfg: ExperimentConfig, out_dir: str | Path | None = None, *, show_progress: bool | None = None,
                   cluster=None, flags: RunFlags | None = None) -> ExperimentResult:
    """Run ``cfg``; write the report into ``out_dir`` when given (see ``docs/outputs.md``).

    Everything is checked first, once: ``preflight(cfg, out_dir, flags)`` -- the very check ``pyims check`` and
    ``pyims run --dry-run`` make -- with the command line's ``flags`` (``--scheduler``, ``--workers``,
    ``--batch-store``; without them, those of ``cluster``). A bad setting fails in seconds, before data are loaded or
    a network trained. An ngspice verification that fails (an ngspice error, a run past
    ``simulation.timeout_s``, a lost worker) or is interrupted (Ctrl-C) does not discard the training and native
    results: the report is written with ``summary.spice_verification_incomplete`` saying why, and a re-run with a
    ``cluster`` resumes from the batches already stored.
    """
    checked: PreflightReport = preflight(cfg, out_dir, flags if flags is not None else _flags_of(cluster))
    log.info("checked %r: %s", cfg.name, "; ".join(checked.checks))
    t_start = time.perf_counter()
    timing: dict[str, float] = {}
    d = cfg.dataset
    ds = load_dataset(
        d.name,
        path=cfg.resolve_path(d.path) if d.path else None,
        download=d.download,
        cache_dir=cfg.resolve_path(d.cache_dir) if d.cache_dir else None,
        mirrors=d.mirrors,
        resize=d.resize,
        test_fraction=d.test_fraction,
        seed=d.seed,
        max_train=d.max_train,
        max_test=d.max_test,
    )
    timing["data_s"] = time.perf_counter() - t_start
    t0 = time.perf_counter()
    mlp = reference = _model(cfg, ds, show_progress)
    if cfg.simulation.activations == "circuit":  # every ReLU as the characterised precision rectifier (the
        # digital reference keeps the model's own activations)
        from pyims.inference.infer import with_circuit_activations

        mlp = with_circuit_activations(as_model(mlp))
    timing["model_s"] = time.perf_counter() - t0

    sim = cfg.simulation
    repeat = sim.repeat  # None: one run on the config's own seeds
    seeds: tuple[int | None, ...] = (None,) if repeat is None else repeat.seeds
    net = base = map_network(mlp, cfg.hardware)
    if repeat is not None:  # draw 0 as pyims.simulate(net, u, Repeat(...)) draws it
        net = base.redrawn(seeds[0])
    x_test, y = ds.test.x_norm, ds.test.y
    # (N, *input_shape): a CNN's images as (N, C, H, W); the pixels through the encoding's declared normalisation
    x_in = net.check_inputs(cfg.encoding.normalized(x_test))
    digital_pre, digital_out = forward_chunked(_steps(reference), cfg.encoding.digital(x_in))
    u = cfg.encoding.quantized(x_in)
    mapped_pre, mapped_out = forward_chunked(net.sequence, u, net.mapped_ideal_evaluate)

    dc_first = time.perf_counter()
    analog, dc, net, read_time = _native_run(cfg, net, u, y, first=True, show_progress=show_progress)
    timing["native_build_s"] = dc.build_time_s
    timing["native_inference_s"] = dc.wall_time_s
    if read_time is not None:
        timing["read_time_build_s"], timing["read_time_run_s"] = read_time.build_s, read_time.run_s
    draw_logits = [analog.logits]
    if repeat is not None:  # the further draws: each maps the model again on its own draw of the hardware
        timing["draw0_s"] = time.perf_counter() - dc_first
        t0 = time.perf_counter()
        with progress_bar(len(seeds) - 1, "Monte Carlo draws", show_progress) as bar:
            for seed in seeds[1:]:
                draw, _, _, _ = _native_run(cfg, base.redrawn(seed), u, y, first=False, show_progress=False)
                draw_logits.append(draw.logits)
                bar.update(1)
        timing["more_draws_s"] = time.perf_counter() - t0

    sim = cfg.simulation
    spice, spice_index, verification, incomplete = None, np.zeros(0, dtype=np.int64), None, None
    if sim.verifies:
        spice_index = sample_index(y.size, sim.n_verify(y.size))
        if cluster is not None:
            from pyims.experiment.config import config_key

            run_key = f"{config_key(cfg)}-{sim.mode}"
        # with a read time, the same read in ngspice: one network transient per image, in this process (preflight
        # refused a read time checked on the tiled topology)
        analysis = _read_spec(cfg) if read_time is not None else None
        batched = cluster if read_time is None else None
        t0 = time.perf_counter()
        try:  # whatever stops the ngspice check, the training and native results above are kept
            with progress_bar(spice_index.size, f"ngspice ({sim.mode})", show_progress) as bar:
                verification, spice = verify_against_ngspice(
                    net, u, analog, spice_index, analysis=analysis, tie_atol=sim.tie_atol, timeout_s=sim.timeout_s,
                    keep_run_dir=sim.keep_run_dirs and read_time is None, batch_size=sim.batch_size,
                    workers=sim.ngspice_workers, progress=bar.update, cluster=batched,
                    run_key=run_key if cluster is not None else "",
                )
        except SpecError:  # a setting the verification cannot take: the config's error, not the check's
            raise
        except verification_stops() as exc:  # recorded in the summary, named on the console; a bug propagates
            incomplete = VerificationIncomplete.of(exc, spice_index.size,
                                                   batch_store=None if batched is None else str(batched.store_dir))
        timing["ngspice_s"] = spice.wall_time_s if spice is not None else time.perf_counter() - t0

    tie = sim.tie_atol
    monte_carlo = None
    if repeat is not None:
        monte_carlo = MonteCarloInfo.from_draws([accuracy_stats(z, y, tie) for z in draw_logits], repeat.describe())
    summary = ExperimentSummary(
        pyims_version=__version__,
        name=cfg.name,
        config=recorded_config(cfg),
        model=ModelInfo.of(cfg, reference),
        dataset=DatasetInfo(name=ds.name, n_train=int(ds.train.y.size), n_test=int(y.size),
                            image_shape=list(ds.image_shape), n_classes=ds.n_classes),
        network=NetworkInfo(
            layer_sizes=list(net.layer_sizes),
            partitions=net.describe_plan(),
            n_tiles=net.n_tiles,
            tiles=[TileInfo(layer=l + 1, row_sizes=list(layer.split.row_sizes), out_sizes=list(layer.split.out_sizes),
                            w_max=layer.w_max) for l, layer in enumerate(net.layers)],
            mode=sim.mode,
            arrays=[f"{'dense' if layer.source is None else 'conv'} {layer.n_rows}x{layer.n_out}" for layer in net.layers],
        ),
        accuracy=Accuracies(
            digital=accuracy_stats(digital_out, y, tie),
            mapped_ideal=accuracy_stats(mapped_out, y, tie),
            analog=accuracy_stats(analog.logits, y, tie),
        ),
        agreement=Agreements(
            analog_vs_digital=agreement(analog.logits, digital_out, tie),
            mapped_ideal_vs_digital=agreement(mapped_out, digital_out, tie),
        ),
        layer_errors=LayerErrors(
            analog_vs_digital=layer_errors(list(analog.pre_norm), digital_pre),
            mapped_ideal_vs_digital=layer_errors(mapped_pre, digital_pre),
            analog_vs_mapped_ideal=layer_errors(list(analog.pre_norm), mapped_pre),
        ),
        confusion_matrix=ConfusionMatrices(
            analog=confusion_matrix(analog.logits, y, ds.n_classes, tie).tolist(),
            digital=confusion_matrix(digital_out, y, ds.n_classes, tie).tolist(),
        ),
        energy=None if analog.power_w is None else EnergyInfo(
            mean_read_power_w=float(analog.power_w.mean()),
            t_read_s=cfg.periphery.t_energy_window_s,
            mean_energy_per_inference_j=float(analog.power_w.mean() * cfg.periphery.t_energy_window_s),
            scope=f"power delivered by every row driver into the arrays ({net.topology.power_scope}); periphery supplies "
            "not included",
        ),
        spice_verification=verification,
        spice_verification_incomplete=incomplete,
        inputs=InputsInfo.of(cfg.encoding, x_in),
        timing=timing,
        provenance=Provenance.here(verification.ngspice_version if verification else None),
        read_time=read_time,
        device=_device_info(cfg, seeds),
        monte_carlo=monte_carlo,
    )
    timing["total_s"] = time.perf_counter() - t_start
    result = ExperimentResult(
        config=cfg, dataset=ds, mlp=mlp, net=net, digital_pre=digital_pre, mapped_pre=mapped_pre,
        digital_out=digital_out, mapped_out=mapped_out,
        analog=analog, spice=spice, spice_index=spice_index, summary=summary,
        draw_logits=np.stack(draw_logits), draw_seeds=seeds,
    )
    if out_dir is not None:
        from pyims.experiment.report import write_report

        write_report(result, Path(out_dir))
    return result
