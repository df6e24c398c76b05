"""Cross-compile exported models for a Cortex-M3, run them under QEMU, compare with the integer reference.

    python tools/mcu_check.py [MODEL ...] [--sequences 3] [--steps T] [--out build/mcu]

MODEL is an activation-quantized run folder (``qornn quantize --activation-bits``) or a packed
model file; without one, untrained models of the shapes of the presets pmnist-hadamrnn (n=512,
p=4) and copy-hadamrnn-quick (n=128), plus a Block-HadamRNN and a QORNN, with 12-bit activations
(sizes depend on the shapes only).  For each model: ``qornn export --format c``, a firmware
(vector table, semihosting output, the test inputs as constants) built with ``arm-none-eabi-gcc
-mcpu=cortex-m3 -mthumb -O2 -std=c99 -Wall -Wextra -Werror``, run on QEMU's lm3s6965evb board (256 KiB
flash, 64 KiB RAM), every printed output compared with :func:`qornn.export.integer_forward`, and
flash/RAM read with ``arm-none-eabi-size``.  ``tools/mcu_check.sh`` installs the toolchain first.
Exit code 0 when every output agrees, 1 otherwise.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

CFLAGS = ["-mcpu=cortex-m3", "-mthumb", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffreestanding",
          "-ffunction-sections", "-fdata-sections", "-fstack-usage"]
QEMU = ["qemu-system-arm", "-M", "lm3s6965evb", "-cpu", "cortex-m3", "-nographic", "-monitor", "none",
        "-serial", "none", "-semihosting-config", "enable=on,target=native", "-kernel"]

LINKER = """\
ENTRY(Reset_Handler)
MEMORY { FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 256K
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 64K }
_estack = ORIGIN(RAM) + LENGTH(RAM);
SECTIONS {
  .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) . = ALIGN(4); } > FLASH
  .ARM.exidx : { *(.ARM.exidx*) } > FLASH
  _sidata = LOADADDR(.data);
  .data : { _sdata = .; *(.data*) . = ALIGN(4); _edata = .; } > RAM AT > FLASH
  .bss : { _sbss = .; *(.bss*) *(COMMON) . = ALIGN(4); _ebss = .; } > RAM
}
"""

FIRMWARE = """\
/* Test firmware: runs the model on constant input sequences and prints the outputs by semihosting. */
#include <stdint.h>
#include "model.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

__attribute__((section(".vectors"), used)) const uint32_t qnn_vectors[4] = {
    (uint32_t)&_estack, (uint32_t)Reset_Handler, (uint32_t)Fault_Handler, (uint32_t)Fault_Handler};

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void put(const char *s) { semihost(0x04, s); }            /* SYS_WRITE0 */
static void quit(void) { semihost(0x18, (const void *)0x20026); } /* SYS_EXIT, ADP_Stopped_ApplicationExit */

void Fault_Handler(void) { put("fault\\n"); quit(); for (;;) {} }

void Reset_Handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss; ++dst) *dst = 0;
    main();
    quit();
    for (;;) {}
}

#define SEQUENCES {sequences}
#define STEPS {steps}
#define OUT_PER_SEQ (QNN_READOUT_ALL ? STEPS * QNN_OUTPUT_SIZE : QNN_OUTPUT_SIZE)
static const int32_t inputs[SEQUENCES * STEPS * QNN_INPUT_WIDTH] = {{
{inputs}
}};
static int32_t outputs[OUT_PER_SEQ];

static void print_int(int32_t v, char end)
{
    char buf[16];
    int i = 15;
    uint32_t u = v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
    buf[i--] = 0;
    buf[i--] = end;
    do { buf[i--] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) buf[i--] = '-';
    put(buf + i + 1);
}

int main(void)
{
    int s, k;
    for (s = 0; s < SEQUENCES; ++s) {
        qnn_sequence(inputs + s * STEPS * QNN_INPUT_WIDTH, STEPS, outputs);
        for (k = 0; k < OUT_PER_SEQ; ++k)
            print_int(outputs[k], (k + 1) % QNN_OUTPUT_SIZE ? ' ' : '\\n');
    }
    put("done\\n");
    return 0;
}
"""


def run(cmd, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if done.returncode != 0:
        sys.exit(f"mcu-check: {' '.join(map(str, cmd[:3]))} ... failed:\n{done.stderr[-2000:]}")
    return done


def preset_model(preset: str, bits: int, overrides=()):
    """(label, integer model) of an untrained model with the shapes of a preset (no data needed)."""
    import torch

    from qornn.config import load_config
    from qornn.export import Calibration, integer_model
    from qornn.model import build_model
    from qornn.tasks.base import TaskInfo

    cfg = load_config(preset, list(overrides))
    if cfg.task.name == "copy":
        info = TaskInfo("tokens", cfg.task.alphabet + 2, cfg.task.alphabet + 1, True, "ce")
        cal = Calibration("tokens", 16.0, None, 0, 0)
    else:
        info = TaskInfo("features", 1, 10, False, "ce")
        cal = Calibration("features", 16.0, 1.0, 0, 0)
    torch.manual_seed(0)
    model = build_model(cfg.model, info).eval()
    return f"{preset} (untrained, n={cfg.model.hidden_size})", integer_model(model, cal, bits)


def load_model(path: str):
    from qornn.export import load_integer_run
    from qornn.export.packed import load_packed

    if Path(path).is_file():
        return path, load_packed(path)
    _, _, _, spec = load_integer_run(Path(path))
    return path, spec


def sizes(tool_out: str) -> dict:
    """flash (.text + .rodata + .data) and RAM (.data + .bss) from ``arm-none-eabi-size -A``."""
    sec = {}
    for line in tool_out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            sec[parts[0]] = sec.get(parts[0], 0) + int(parts[1])
    pick = lambda *prefixes: sum(v for k, v in sec.items() if k.startswith(prefixes))  # noqa: E731
    return {"flash": pick(".text", ".rodata", ".data", ".vectors"), "ram": pick(".data", ".bss")}


def stack_bytes(folder: Path) -> int:
    """Largest frame of the model's functions (``-fstack-usage``; their calls nest at most two deep)."""
    frames = [int(line.split()[-2]) for line in (folder / "model.su").read_text().splitlines() if line.strip()]
    return sum(sorted(frames)[-2:])


def check(label: str, spec, folder: Path, sequences: int, steps: int | None) -> dict:
    from qornn.export import integer_forward
    from qornn.export.c_build import random_inputs
    from qornn.export.c_code import write_c

    steps = steps or (784 if spec.input_kind == "features" else 120)
    write_c(spec, folder)
    x = random_inputs(spec, sequences, steps, seed=11)
    text = ",\n".join(", ".join(map(str, row)) for row in x.reshape(-1, 16 if x.size % 16 == 0 else 1))
    (folder / "firmware.c").write_text(FIRMWARE.replace("{sequences}", str(sequences))
                                       .replace("{steps}", str(steps)).replace("{inputs}", text)
                                       .replace("{{", "{").replace("}}", "}"))
    (folder / "link.ld").write_text(LINKER)
    run(["arm-none-eabi-gcc", *CFLAGS, "-c", "-o", folder / "model.o", folder / "model.c"], cwd=folder)
    model_size = sizes(run(["arm-none-eabi-size", "-A", folder / "model.o"]).stdout)
    run(["arm-none-eabi-gcc", *CFLAGS, "-nostdlib", "-nostartfiles", "-T", folder / "link.ld",
         "-Wl,--gc-sections", "-o", folder / "fw.elf", folder / "firmware.c", folder / "model.c",
         "-Wl,--start-group", "-lc", "-lgcc", "-Wl,--end-group"], cwd=folder)
    fw_size = sizes(run(["arm-none-eabi-size", "-A", folder / "fw.elf"]).stdout)
    done = run(QEMU + [folder / "fw.elf"], timeout=600)  # semihosting writes to stderr, beside QEMU's notes
    lines = (done.stdout + "\n" + done.stderr).splitlines()
    out = " ".join(line for line in lines if line == "done" or re.fullmatch(r"-?[0-9]+( -?[0-9]+)*", line)).split()
    if not out or out[-1] != "done":
        sys.exit(f"mcu-check: {label}: the firmware did not finish (output ends {' '.join(out[-5:])!r})")
    got = np.array(out[:-1], dtype=np.int64)
    want = integer_forward(spec, x).reshape(-1)
    mismatches = int((got != want).sum()) if got.size == want.size else want.size
    return {"label": label, "outputs": int(want.size), "mismatches": mismatches, "model": model_size,
            "firmware": fw_size, "stack": stack_bytes(folder), "sequences": sequences, "steps": steps}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", help="activation-quantized run folders or packed model files")
    p.add_argument("--sequences", type=int, default=3)
    p.add_argument("--steps", type=int, default=None, help="steps per sequence (default 784 features, 120 tokens)")
    p.add_argument("--out", default="build/mcu")
    args = p.parse_args(argv)
    if args.models:
        models = [load_model(m) for m in args.models]
    else:
        models = [preset_model("pmnist-hadamrnn", 12), preset_model("copy-hadamrnn-quick", 12),
                  preset_model("copy-block-hadamrnn", 12, ["model.output_bits=4", "model.permute_blocks=true"]),
                  preset_model("copy-qornn-bjorck-k6", 12, ["model.output_bits=4", "model.hidden_size=64"])]
    failed = 0
    print("| model | outputs compared | mismatches | model flash (B) | model RAM (B) | stack (B) | "
          "firmware flash / RAM (B) |\n|---|---:|---:|---:|---:|---:|---:|")
    for i, (label, spec) in enumerate(models):
        folder = Path(args.out).resolve() / f"model{i}"  # absolute: the compilers run with cwd=folder
        folder.mkdir(parents=True, exist_ok=True)
        r = check(label, spec, folder, args.sequences, args.steps)
        failed += r["mismatches"] > 0
        print(f"| {label} | {r['outputs']} ({r['sequences']} x {r['steps']} steps) | {r['mismatches']} | "
              f"{r['model']['flash']} | {r['model']['ram']} | {r['stack']} | "
              f"{r['firmware']['flash']} / {r['firmware']['ram']} |", flush=True)
    print("Cortex-M3 (QEMU lm3s6965evb), arm-none-eabi-gcc -O2; model = model.o (flash .text+.rodata+.data, "
          "RAM .data+.bss); firmware adds the test inputs and the startup code.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
