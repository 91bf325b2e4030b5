# ente's recipes. `just --list` shows them all.
#
# The two commands in README.md start here: `just check` (the main job) and
# `just test` (every test). Each installs what it lacks first.

set shell := ["bash", "-euo", "pipefail", "-c"]

export CARGO_BUILD_JOBS := "2"

# The main job: check every example card and the graphs of the seeds.
default: check

# Install what the recipes need; idempotent, and quick when all is there.
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if ! rustup target list --installed | grep -qx wasm32-wasip2; then
        rustup target add wasm32-wasip2
    fi
    if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq python3 python3-venv
    fi
    if [ ! -x target/py/bin/python3 ] || ! cmp -s tests/support/requirements.txt target/py/requirements.txt; then
        rm -rf target/py
        python3 -m venv target/py
        target/py/bin/pip install -q --disable-pip-version-check -r tests/support/requirements.txt
        cp tests/support/requirements.txt target/py/requirements.txt
    fi

# Build the host.
build:
    cargo build --locked

# Check every example card, and the whole graph of each seed.
check: build
    target/debug/ente check cards/*.json
    target/debug/ente check --graph cards/demo.json cards/appliance.json

# Every test.
test: setup
    cargo test --locked --workspace

# What CI checks besides the tests.
lint:
    cargo fmt --all -- --check
    cargo clippy --locked --workspace --all-targets -- -D warnings
