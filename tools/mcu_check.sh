#!/usr/bin/env bash
# Cross-compile exported qornn models for a Cortex-M3, run them under QEMU with semihosting and compare
# every output with the NumPy integer reference (issue 11). Not part of `make test`.
#   tools/mcu_check.sh [RUN_Q | model.qnn ...]      (no argument: untrained models of the preset shapes)
# Installs Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm when missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v arm-none-eabi-gcc >/dev/null 2>&1 || need+=(gcc-arm-none-eabi)
[ -d /usr/lib/arm-none-eabi/newlib ] || need+=(libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null 2>&1 || need+=(qemu-system-arm)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "mcu-check: missing ${need[*]}; install them (sudo apt-get install ${need[*]}) or run as root" >&2
        exit 2
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
exec "${PYTHON:-.venv/bin/python}" tools/mcu_check.py "$@"
