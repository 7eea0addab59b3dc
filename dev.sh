#!/usr/bin/env bash
# flashgen developer entry point.
#   ./dev.sh demo [flashgen run options]   install, then run the main job on built-in defaults
#   ./dev.sh test [pytest options]         install, then run the test suite (what CI runs)
#   ./dev.sh lint                          install, then ruff (what CI runs before the tests)
#   ./dev.sh install                       only create/refresh the virtual environment
# The environment lives in .venv (override with FLASHGEN_VENV). torch is pinned to the CPU build
# 2.13.0 here; pyproject.toml accepts a range so other machines can bring their own build.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${FLASHGEN_VENV:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

install() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    local stamp="$VENV/.flashgen-installed"
    local want
    want=$(cat pyproject.toml dev.sh | sha256sum | cut -c1-16)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
    "$VENV/bin/python" -m pip install --quiet -e ".[zmumu,test]"
    # the field's FPD/KPD for tests/validation/test_fpd_jetnet.py, without energyflow & co.
    "$VENV/bin/python" -m pip install --quiet --no-deps "jetnet==0.2.5"
    echo "$want" > "$stamp"
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
    install) install ;;
    demo)
        install
        exec "$VENV/bin/flashgen" run "$@"
        ;;
    test)
        install
        exec "$VENV/bin/python" -m pytest -q -n 2 -m "not slow and not gpu" --durations=15 "$@"
        ;;
    lint)
        install
        exec "$VENV/bin/ruff" check src tests benchmarks tools
        ;;
    *)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
