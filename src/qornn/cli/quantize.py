"""``qornn quantize DIR --recurrent-bits k --input-bits k --out DIR2``: post-training quantization (PTQ).

Turns a trained run into a quantized one without training (QORNN's PTQ, Foucault
et al., arXiv 2402.04012): the new model has the same configuration except for the
bit widths given, every trained tensor is copied unchanged, and the quantizers
(per-tensor max-abs α, :mod:`qornn.quant`) now act on the effective matrices:
W_q = Q_k(W) with W the scheme's matrix (e.g. the projUNN latent or Björck(SN(V))),
U_q = Q_p(U), V_q = Q_p(V).  Nothing else changes.

DIR2 is a complete run folder (config.yaml, model.safetensors, metrics.jsonl,
summary.json), so ``qornn eval DIR2`` and ``qornn info DIR2`` work on it, and
QAT against PTQ is a two-command comparison::

    qornn quantize runs/copy-fp --recurrent-bits 5 --input-bits 5 --out runs/copy-ptq5
    qornn eval runs/copy-ptq5

``--activation-bits B`` also quantizes inputs, hidden state and biases to B bits (4..16) with
ranges calibrated on training data (:mod:`qornn.export`): DIR2 then holds activations.json, and
``qornn eval DIR2`` evaluates the integer-exact model that ``qornn export`` deploys
(docs/deploy.md).
"""
from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

from ..errors import ConfigError

_PARAM = ".parametrizations."


def register(sub) -> None:
    p = sub.add_parser("quantize", help="post-training quantization of a run folder into a new run folder",
                       description="Post-training quantization: copy a trained run with k-bit W, U (and V). "
                                   "Example: qornn quantize runs/fp --recurrent-bits 5 --input-bits 5 --out runs/ptq5")
    p.add_argument("run_dir", metavar="DIR", help="trained run folder (from `qornn train --out`)")
    p.add_argument("--recurrent-bits", type=_bits, default=None, metavar="K",
                   help="k for the recurrent matrix W (2..8)")
    p.add_argument("--recurrent-rescale", choices=("none", "radius"), default=None,
                   help="radius: divide Q_k(W) by its spectral radius when rounding pushed it above 1 "
                        "(default: as in DIR)")
    p.add_argument("--input-bits", type=_bits, default=None, metavar="K",
                   help="p for the input matrix U (1..8, or 'fp' for full precision)")
    p.add_argument("--output-bits", type=_bits, default=None, metavar="K",
                   help="p for the readout V (1..8, or 'fp'); default: as in DIR")
    p.add_argument("--activation-bits", type=int, default=None, metavar="B",
                   help="also quantize inputs, hidden state and biases to B bits (4..16) for an integer-only "
                        "recurrence, calibrated on training data (qornn eval/export then use the integer model)")
    p.add_argument("--calibration-batches", type=int, default=None, metavar="N",
                   help="training batches for the activation ranges (default 10)")
    p.add_argument("--calibration-percentile", type=float, default=None, metavar="Q",
                   help="use the Q-th percentile of |h| per batch instead of its maximum (default: maximum)")
    p.add_argument("--out", required=True, metavar="DIR2", help="run folder to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder DIR2")
    p.add_argument("--no-eval", action="store_true", help="do not evaluate on val/test (summary without metrics)")
    p.add_argument("--batch-size", type=int, default=None, help="evaluation batch size")
    p.add_argument("--data-dir", default=None, help="data folder for data-backed tasks")
    p.add_argument("--quiet", action="store_true", help="no final line")
    p.set_defaults(func=run)


FULL_PRECISION = "fp"


def _bits(text: str):
    """argparse type: an integer, or 'fp'/'none'/'null' for full precision (kept as a marker)."""
    if text.lower() in ("fp", "none", "null"):
        return FULL_PRECISION
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; use an integer from 1 to 8 or 'fp'") from None


def transfer_state(source: dict, target_keys) -> dict:
    """Map the source state dict onto the target's keys.

    A tensor that gains or loses a quantizer changes name between ``a.w`` and
    ``a.parametrizations.w.original``; everything else keeps its name.
    """
    out = {}
    for key in target_keys:
        if key in source:
            out[key] = source[key]
            continue
        alt = None
        if _PARAM in key and key.endswith(".original"):
            head, tail = key.split(_PARAM, 1)
            alt = f"{head}.{tail[:-len('.original')]}" if head else tail[:-len(".original")]
        else:
            head, _, name = key.rpartition(".")
            alt = f"{head}{_PARAM}{name}.original" if head else f"parametrizations.{name}.original"
        if alt in source:
            out[key] = source[alt]
    return out


def ptq_model(model, cfg_model, info, seed: int = 0):
    """A new model of config ``cfg_model`` holding ``model``'s trained tensors (PTQ by re-parametrization)."""
    import torch

    from ..model import build_model

    torch.manual_seed(seed)
    new = build_model(cfg_model, info)
    state = transfer_state(model.state_dict(), new.state_dict().keys())
    missing = sorted(set(new.state_dict()) - set(state))
    if missing:
        raise ConfigError(f"cannot quantize: the trained model has no tensor for {missing[0]}")
    new.load_state_dict(state, strict=True)
    new.eval()
    return new


def run(args) -> int:
    from .. import run as rundir
    from ..config import to_yaml
    from ..run import load_trained

    if all(getattr(args, k) is None for k in ("recurrent_bits", "input_bits", "output_bits", "activation_bits",
                                              "recurrent_rescale")):
        raise ConfigError("give at least one of --recurrent-bits, --input-bits, --output-bits, --activation-bits, "
                          "--recurrent-rescale")
    if args.activation_bits is not None:
        from ..export import check_activation_bits

        check_activation_bits(args.activation_bits)
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size} is not allowed; use a positive integer")
    src, out = Path(args.run_dir), Path(args.out)
    if out.resolve() == src.resolve():
        raise ConfigError(f"--out {out} is the source run; choose a new folder")
    cfg, task, model = load_trained(src, data_dir=args.data_dir)

    new_cfg, changes = _new_config(args, cfg)
    label = ", ".join(f"{k}={'fp' if v is None else v}" for k, v in changes.items())
    new_cfg.description = f"PTQ ({label}) of {src}" + (f": {cfg.description}" if cfg.description else "")
    try:
        new = ptq_model(model, new_cfg.model, task.info, cfg.seed)
        activations = _calibrate(args, new, task, cfg)
    except ConfigError as exc:
        raise ConfigError(f"cannot quantize {src}: {exc}") from None

    source_summary = rundir.read_summary(src) if (src / rundir.SUMMARY).is_file() else {}
    step = int(source_summary.get("steps", 0))
    start = time.perf_counter()
    with rundir.create_run_dir(out, args.overwrite, {rundir.CONFIG: to_yaml(new_cfg)}):
        if activations is not None:
            from ..export.calibration import write_activations

            write_activations(out, args.activation_bits, activations[1], str(src))
            changes["calibration"] = vars(activations[1])
        evaluated = new if activations is None else activations[0]
        summary = _write_ptq_run(args, out, src, new, new_cfg, cfg, task, step, changes, source_summary, start,
                                 evaluated)
    if not args.quiet:
        line = f"PTQ ({label}): {summary['total_bits']} bits"
        if "test" in summary:
            line += f", {rundir.score_line(summary['test'], task.info.baseline_name)}"
        before = (source_summary.get("test") or {}).get("loss")
        if before is not None:
            line += f" (before: test loss {before:.6g}, {source_summary.get('total_bits')} bits)"
        print(f"{line}  [run folder {out}]")
    return 0


def _new_config(args, cfg):
    """(the PTQ run's config, {changed key: value}) from the bit-width flags."""
    new_cfg = copy.deepcopy(cfg)
    changes = {}
    for key in ("recurrent_bits", "input_bits", "output_bits"):
        value = getattr(args, key)
        if value is not None:
            value = None if value == FULL_PRECISION else value
            setattr(new_cfg.model, key, value)
            changes[key] = value
    if new_cfg.model.recurrent_bits is None and cfg.model.recurrent_bits is not None:
        raise ConfigError("--recurrent-bits fp is not allowed: the run was trained with a quantized W")
    if args.recurrent_rescale is not None:
        new_cfg.model.recurrent_rescale = changes["recurrent_rescale"] = args.recurrent_rescale
    if args.activation_bits is not None:
        changes["activation_bits"] = args.activation_bits
    return new_cfg, changes


def _calibrate(args, model, task, cfg):
    """(integer-exact model, calibration) for --activation-bits, or None without it."""
    if args.activation_bits is None:
        if args.calibration_batches is not None or args.calibration_percentile is not None:
            raise ConfigError("--calibration-batches and --calibration-percentile need --activation-bits")
        return None
    from ..export import IntegerExactModel, calibrate, check_activation_bits, integer_model
    from ..export.calibration import DEFAULT_BATCHES

    check_activation_bits(args.activation_bits)
    batches = DEFAULT_BATCHES if args.calibration_batches is None else args.calibration_batches
    calibration = calibrate(model, task, batches, cfg.train.batch_size, args.calibration_percentile)
    return IntegerExactModel(integer_model(model, calibration, args.activation_bits)), calibration


def _write_ptq_run(args, out, src, new, new_cfg, cfg, task, step, changes, source_summary, start,
                   evaluated) -> dict:
    """model.safetensors, metrics.jsonl and summary.json of the PTQ run folder ``out``; returns the summary.
    ``evaluated`` is the model scored on val/test (``new``, or its integer-exact model)."""
    from .. import run as rundir
    from ..checkpoint import atomic_write_text, save_model
    from ..config import config_to_dict
    from ..jsonio import dumps
    from ..evaluation import evaluate

    save_model(out / rundir.MODEL, new, {"step": step, "config": config_to_dict(new_cfg), "ptq_from": str(src)})
    final = {}
    if not args.no_eval:
        bs = args.batch_size or cfg.train.eval_batch_size or cfg.train.batch_size
        lines = []
        for split in ("val", "test"):
            final[split] = evaluate(evaluated, task, split, bs)
            lines.append(dumps({"step": step, **final[split], "time_s": 0.0, "final": True, "ptq": True}))
        atomic_write_text(out / rundir.METRICS, "".join(line + "\n" for line in lines))
    else:
        atomic_write_text(out / rundir.METRICS, "")
    # the source's training length: a PTQ of a run its budget stopped is no more complete than that run
    summary = rundir.make_summary(new_cfg, new, step, int(source_summary.get("total_steps", step)),
                                  time.perf_counter() - start, final,
                                  stopped_early=bool(source_summary.get("stopped_early", False)),
                                  activation_bits=args.activation_bits,
                                  ptq={"source": str(src), **changes, "source_test": source_summary.get("test"),
                                       "source_total_bits": source_summary.get("total_bits")},
                                  commands=[getattr(args, "command_line", "qornn quantize")])
    rundir.write_summary(out, summary)
    return summary
