# ente's recipes. `just --list` shows them all.
#
# The two commands in README.md start here: `just check` (the main job) and
# `just test` (every test). Each installs what it lacks first.

set shell := ["bash", "-euo", "pipefail", "-c"]

export CARGO_BUILD_JOBS := "2"
# The store and caches of dev mode live in the checkout unless set.
export ENTE_HOME := env_var_or_default("ENTE_HOME", justfile_directory() + "/target/ente-home")

# The main job: start the demo graph, live, until Ctrl-C.
default: up

# Start a seed card's graph in dev mode (Ctrl-C stops it in order).
up seed="cards/demo.json": guests check
    target/debug/ente up {{seed}}

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

# The guest components: build them for wasm32-wasip2, add them to the store,
# and pin the cards to what was built (see guests/components.lock).
guests: setup
    #!/usr/bin/env bash
    set -euo pipefail
    root="$PWD"
    # Paths are remapped so that a build in another checkout gives the same
    # bytes. Only this build: the host's flags must not change.
    RUSTFLAGS="--remap-path-prefix=$root=/ente --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo" \
        cargo build --locked --release --target wasm32-wasip2 --manifest-path guests/Cargo.toml
    mkdir -p target/guests
    for wasm in guests/target/wasm32-wasip2/release/*.wasm; do
        cp "$wasm" target/guests/
    done
    cargo build --locked
    tools_repin="$(mktemp)"
    : > "$tools_repin"
    while read -r name pinned; do
        case "$name" in ''|'#'*) continue ;; esac
        built="$(target/debug/ente cas add "target/guests/$name.wasm")"
        if [ "$built" != "$pinned" ]; then
            sed -i "s/$pinned/$built/g" cards/*.json guests/components.lock
            echo "$name" >> "$tools_repin"
        fi
    done < guests/components.lock
    if [ -s "$tools_repin" ]; then
        echo "re-pinned cards to this build of: $(tr '\n' ' ' < "$tools_repin")(a different rustc or dependency gives different bytes)"
    fi
    rm -f "$tools_repin"

# Build the host.
build:
    cargo build --locked

# Check every example card, and the whole graph of each seed.
check: build
    target/debug/ente check cards/*.json
    target/debug/ente check --graph cards/demo.json cards/appliance.json

# Every test.
test: setup guests
    cargo test --locked --workspace

# What CI checks besides the tests.
lint:
    cargo fmt --all -- --check
    cargo clippy --locked --workspace --all-targets -- -D warnings
