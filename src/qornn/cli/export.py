"""``qornn export RUN_Q --format packed|c --out PATH``: deploy an activation-quantized run.

RUN_Q comes from ``qornn quantize RUN --activation-bits B --out RUN_Q`` (it holds the calibrated
ranges); a packed model file is accepted too (e.g. to generate C from it).  ``--format packed`` writes the bit-packed safetensors model file
(:func:`qornn.load_packed` reads it back); ``--format c`` writes model.h, model.c and main.c
(C99, integers only) and prints their code and data size.  ``--verify N`` checks the export on N
random input sequences against the NumPy integer reference (for C: compiled with the system
compiler) and prints ``mismatches: 0`` when every output agrees; exit code 1 otherwise::

    qornn export runs/pmnist-a12 --format c --out build/pmnist --verify 20
"""
from __future__ import annotations

from pathlib import Path

FORMATS = ("packed", "c")


def register(sub) -> None:
    p = sub.add_parser("export", help="write an activation-quantized run as a packed model file or as C",
                       description="Export an activation-quantized run (qornn quantize --activation-bits). "
                                   "Example: qornn export runs/copy-a12 --format c --out build/copy --verify 10")
    p.add_argument("run_dir", metavar="RUN_Q", help="run folder written by `qornn quantize --activation-bits`, "
                                                    "or a packed model file")
    p.add_argument("--format", required=True, choices=FORMATS, help="packed (model file) or c (C99 sources)")
    p.add_argument("--out", required=True, metavar="PATH", help="model file (packed) or folder (c)")
    p.add_argument("--verify", type=int, default=None, metavar="N",
                   help="check N random input sequences against the integer reference")
    p.add_argument("--verify-steps", type=int, default=100, metavar="T", help="steps per verified sequence")
    p.add_argument("--seed", type=int, default=0, help="seed of the verification inputs")
    p.add_argument("--data-dir", default=None, help="data folder for data-backed tasks")
    p.set_defaults(func=run)


def _counted_bytes(model, bits: int) -> float:
    from ..size import model_size

    return model_size(model, bits)["total_bits"] / 8


def _export_packed(args, spec, model) -> int:
    from ..export.c_build import random_inputs
    from ..export.packed import load_packed, save_packed

    out = Path(args.out)
    size = save_packed(spec, out)
    if model is None:
        print(f"wrote {out}: {size} bytes")
    else:
        counted = _counted_bytes(model, spec.activation_bits)
        print(f"wrote {out}: {size} bytes (qornn info counts {counted:.0f} bytes; difference {size - counted:+.0f})")
    if args.verify is None:
        return 0
    inputs = random_inputs(spec, args.verify, args.verify_steps, args.seed)
    loaded = load_packed(out)
    mismatches = int((loaded(inputs) != spec(inputs)).sum())
    print(f"verify: {args.verify} sequences x {args.verify_steps} steps, load_packed against the exported model, "
          f"mismatches: {mismatches}")
    return 0 if mismatches == 0 else 1


def _export_c(args, spec) -> int:
    from ..export.c_build import find_compiler, object_sizes, verify_c
    from ..export.c_code import operations_per_step, write_c

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        from ..errors import OutputError

        raise OutputError(f"--out {out} is a file; --format c writes a folder")
    write_c(spec, out)
    ops = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in operations_per_step(spec).items())
    print(f"wrote {out}/model.h, model.c, main.c ({ops} per step)")
    cc = find_compiler()
    if cc is None:
        print("code and data size: no C compiler found (install gcc, or set $CC) to measure them")
    else:
        s = object_sizes(out, cc)
        print(f"code {s['code']} bytes, constant data {s['constants']} bytes, RAM {s['ram']} bytes "
              f"(model.o, {Path(cc).name} -O2, size -A)")
    if args.verify is None:
        return 0
    result = verify_c(spec, out, args.verify, args.verify_steps, args.seed)
    print(f"verify: {result['sequences']} sequences x {result['steps']} steps, {result['outputs']} outputs "
          f"against the NumPy integer reference, mismatches: {result['mismatches']}")
    return 0 if result["mismatches"] == 0 else 1


def run(args) -> int:
    from ..errors import ConfigError
    from ..export.calibration import load_integer_run

    for flag, value in (("--verify", args.verify), ("--verify-steps", args.verify_steps)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} {value} is not allowed; use a positive integer")
    source = Path(args.run_dir)
    if source.is_file():  # a packed model file: its integer model (e.g. packed -> c)
        from ..export.packed import load_packed

        model, spec = None, load_packed(source)
    else:
        _, _, model, spec = load_integer_run(source, data_dir=args.data_dir)
    if args.format == "packed":
        return _export_packed(args, spec, model)
    return _export_c(args, spec)
