"""``qornn info DIR``: size in bits and per-matrix facts of a trained model."""
from __future__ import annotations

from .common import print_json


def register(sub) -> None:
    p = sub.add_parser("info", help="model size and weight statistics of a run folder")
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("--json", action="store_true", help="print JSON (stable keys, see docs/usage.md)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..run import load_trained
    from ..size import model_size

    from ..export import has_activations, read_activations

    bits = read_activations(args.run_dir)[0] if has_activations(args.run_dir) else None
    cfg, _, model = load_trained(args.run_dir)
    size = model_size(model, bits)
    if args.json:
        print_json({"run": str(args.run_dir), "recurrent": cfg.model.recurrent, **size})
        return 0
    acts = f", {bits}-bit activations (biases at {bits} bits)" if bits is not None else ""
    print(f"run {args.run_dir}: {cfg.model.recurrent}, hidden {cfg.model.hidden_size}{acts}, "
          f"total {size['total_bits']} bits ({size['total_kbits']:.2f} kbit)")
    header = (f"{'tensor':<28} {'role':<9} {'shape':<12} {'bits':>9} {'distinct':>9} {'zeros':>7} {'||WᵀW−I||₂':>11}"
              f" {'σ_min':>7} {'σ_max':>7} {'α':>9} {'step':>9}")
    print(header)
    for name, e in size["weights"].items():
        shape = "x".join(str(s) for s in e["shape"])
        orth = f"{e['orthogonality_error']:.2e}" if "orthogonality_error" in e else ""
        sig = (f"{e['sigma_min']:>7.4f} {e['sigma_max']:>7.4f}" if "sigma_min" in e else f"{'':>7} {'':>7}")
        alpha = f"{e['alpha']:>9.4g}" if e.get("alpha") is not None else f"{'':>9}"
        step = f"{e['step']:>9.3g}" if e.get("step") is not None else f"{'':>9}"
        print(f"{name:<28} {e['role']:<9} {shape:<12} {e['bits']:>9} {e['distinct_values']:>9} "
              f"{e['zero_fraction']:>7.3f} {orth:>11} {sig} {alpha} {step}")
    return 0
