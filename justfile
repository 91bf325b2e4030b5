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
    # The language kit (guests/echo-*, see guests/README.md): Node for
    # componentize-js, clang and wasi-libc for C, wit-bindgen for C
    # bindings; and sccache, which CI uses to keep compiled crates.
    missing=()
    command -v make >/dev/null || missing+=(make)
    command -v sccache >/dev/null || missing+=(sccache)
    # promtool checks the metrics' text in a test (Debian ships it with prometheus).
    command -v promtool >/dev/null || missing+=(prometheus)
    # The NATS CloudEvents sink is tested against a real server (Debian
    # puts it in /usr/sbin, outside a user's PATH).
    command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
    command -v npm >/dev/null || missing+=(nodejs npm)
    command -v clang >/dev/null || missing+=(clang)
    command -v wasm-ld >/dev/null || missing+=(lld)
    [ -e /usr/include/wasm32-wasi/stdio.h ] || missing+=(wasi-libc)
    ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 \
        || missing+=(libclang-rt-14-dev-wasm32)
    if [ ${#missing[@]} -gt 0 ]; then
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    fi
    if [ "$(wit-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "0.63.0" ]; then
        cargo install --locked wit-bindgen-cli --version 0.63.0
    fi
    js=guests/echo-js
    if [ ! -x $js/node_modules/.bin/componentize-js ] || ! cmp -s $js/package-lock.json $js/node_modules/.ente-lock; then
        (cd $js && npm ci --no-audit --no-fund --silent)
        cp $js/package-lock.json $js/node_modules/.ente-lock
    fi

# The guest components: build them for wasm32-wasip2, add them to the store,
# and pin the cards to what was built (see guests/components.lock).
guests: setup
    #!/usr/bin/env bash
    set -euo pipefail
    root="$PWD"
    # Paths are remapped so that a build in another checkout gives the same
    # bytes. Only this build: the host's flags must not change.
    # A 64 KiB stack keeps a new Ente's first pages within what the host
    # keeps resident (host/runtime/src/engine.rs).
    RUSTFLAGS="--remap-path-prefix=$root=/ente --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo -C link-arg=-zstack-size=65536" \
        cargo build --locked --release --target wasm32-wasip2 --manifest-path guests/Cargo.toml
    mkdir -p target/guests
    for wasm in guests/target/wasm32-wasip2/release/*.wasm; do
        cp "$wasm" target/guests/
    done
    cargo build --locked
    # A std guest that reaches for files and sockets, packed so that it
    # imports only Journal: `ente pack` denies the rest inside it.
    target/debug/ente pack target/guests/wasi_reach.wasm --grant Journal \
        -o target/guests/wasi_reach.packed.wasm > /dev/null
    # The language kit: echo in Python, JavaScript and C, each built by its
    # own toolchain (when its sources changed) and packed to import only
    # Journal. Each example's README.md shows the same steps.
    stale() { local out=$1; shift; [ ! -e "$out" ] || [ -n "$(find "$@" -newer "$out" 2>/dev/null)" ]; }
    if stale target/guests/echo_python.wasm guests/echo-python/app.py wit; then
        target/py/bin/componentize-py -d wit -w provider componentize app -p guests/echo-python \
            -o target/guests/echo_python.unpacked.wasm > /dev/null
        target/debug/ente pack target/guests/echo_python.unpacked.wasm --grant Journal \
            -o target/guests/echo_python.wasm > /dev/null
    fi
    if stale target/guests/echo_js.wasm guests/echo-js/echo.js wit; then
        guests/echo-js/node_modules/.bin/componentize-js guests/echo-js/echo.js --wit "$root/wit" \
            --world-name provider -o target/guests/echo_js.unpacked.wasm > /dev/null
        target/debug/ente pack target/guests/echo_js.unpacked.wasm --grant Journal \
            -o target/guests/echo_js.wasm > /dev/null
    fi
    if stale target/guests/echo_c.wasm guests/echo-c/echo.c wit; then
        make -s -C guests/echo-c OUT="$root/target/guests" ENTE="$root/target/debug/ente"
    fi
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
        echo "re-pinned the cards to this build of: $(tr '\n' ' ' < "$tools_repin")(its bytes differ from the pinned build)"
    fi
    rm -f "$tools_repin"

# Build the host.
build:
    cargo build --locked

# Check every example card, and the whole graph of each seed.
check: build
    target/debug/ente check cards/*.json
    target/debug/ente check --graph cards/demo.json cards/appliance.json

# Every test, then the appliance's boot check.
test: setup guests
    cargo test --locked --workspace --features ente/nats
    just boot-check

# Benchmarks: ente against raw wasmtime, ratios from the same run.
bench: guests
    cargo build --locked --release --bin ente
    cargo run --locked --release --bin ente-bench

# Debian packages the appliance recipes need, installed when missing.
appliance-deps:
    #!/usr/bin/env bash
    set -euo pipefail
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    ls /boot/vmlinuz-* >/dev/null 2>&1 || missing+=(linux-image-amd64)
    command -v xz >/dev/null || missing+=(xz-utils)
    command -v musl-gcc >/dev/null || missing+=(musl-tools)
    if [ ${#missing[@]} -gt 0 ]; then
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    fi
    if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
        rustup target add x86_64-unknown-linux-musl
    fi
    # The appliance's native Entes run Debian's static busybox, unpacked
    # from its package (installing it would replace the host's busybox).
    if [ ! -x target/busybox/bin/busybox ]; then
        mkdir -p target/busybox
        (cd target/busybox && { apt-get download busybox-static 2>/dev/null \
            || { $sudo apt-get update -qq && apt-get download busybox-static; }; } \
            && dpkg-deb -x busybox-static_*.deb . && rm busybox-static_*.deb)
    fi

# The appliance image: target/image/initramfs.cpio (static ente as /init,
# cards, precompiled components, modules) and target/image/vmlinux.
image: appliance-deps guests
    #!/usr/bin/env bash
    set -euo pipefail
    musl=x86_64-unknown-linux-musl
    # wasmtime's build script compiles a C helper for the target.
    export CC_x86_64_unknown_linux_musl=musl-gcc
    # Before the kernel CSPRNG is seeded, the host's own randomness must not
    # block boot (host/ente/pid1/entropy.rs).
    export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS='--cfg getrandom_backend="custom"'

    # No compiler in /init: the appliance loads only what is precompiled here.
    cargo build --locked --profile appliance --target $musl --bin ente --no-default-features
    cargo build --locked --release --target $musl -p ente-image --bin bare-init
    cargo build --locked -p ente-image --bin ente-image
    tool=target/debug/ente-image
    release="$(ls /lib/modules | sort -V | tail -n 1)"
    out=target/image; stage=$out/root; bare=$out/bare
    rm -rf "$stage" "$bare"; mkdir -p "$stage/cards" "$stage/var/lib/ente" "$bare"
    cp target/$musl/appliance/ente "$stage/init"
    mkdir -p "$stage/bin"
    cp target/busybox/bin/busybox "$stage/bin/busybox"
    cp cards/appliance.json "$stage/cards/appliance.json"
    cp cards/invalid/label-empty.json "$stage/cards/invalid.json"
    # The components the appliance pins, stored and precompiled for the
    # portable engine the appliance runs, by this checkout's compiling build.
    # A native Ente's body is the shim this build of ente pins.
    # (Every digest in the card: a body's, and a component an Ente spawns.)
    digests="$(grep -o '[0-9a-f]\{64\}' cards/appliance.json | sort -u)
        $(awk '$1 == "shim" { print $2 }' guests/components.lock)"
    # Only those: the other guests (the Python and JavaScript ones are 12 to
    # 18 MB each) would fill the appliance's RAM for nothing. A scratch
    # store tells each build's digest.
    scratch=$out/scratch; rm -rf "$scratch"
    for wasm in target/guests/*.wasm; do
        digest="$(ENTE_HOME="$scratch" target/debug/ente cas add "$wasm")"
        if grep -qx "$digest" <<< "$(echo "$digests" | tr -d ' ')"; then
            ENTE_HOME="$stage/var/lib/ente" target/debug/ente cas add "$wasm" > /dev/null
        fi
    done
    rm -rf "$scratch"
    ENTE_ENGINE=portable ENTE_HOME="$stage/var/lib/ente" target/debug/ente cas compile $digests > /dev/null
    $tool modules "/lib/modules/$release" "$stage" button evdev virtio_mmio virtio_blk virtio_rng virtio_console
    $tool cpio "$stage" $out/initramfs.cpio
    cp target/$musl/release/bare-init "$bare/init"
    $tool cpio "$bare" $out/bare.cpio
    $tool vmlinux "/boot/vmlinuz-$release" $out/vmlinux
    echo "image: $out/initramfs.cpio ($(du -h $out/initramfs.cpio | cut -f1)), kernel $out/vmlinux ($release)"

# Boot the appliance interactively (software emulation, no KVM). QEMU gets
# the host's TSC rate and no transparent huge pages (host/image/src).
boot: image
    #!/usr/bin/env bash
    set -euo pipefail
    [ -f target/image/state.img ] || truncate -s 64M target/image/state.img
    echo "Power the machine off with the power key: in another terminal run"
    echo "  target/debug/ente-image monitor target/image/monitor.sock system_powerdown"
    echo "or press Ctrl-A X to kill QEMU outright. Ask it what runs, through its control port:"
    echo "  target/debug/ente ctl --socket target/image/ctl.sock status"
    target/debug/ente-image boot --kernel target/image/vmlinux --initrd target/image/initramfs.cpio \
        --disk target/image/state.img --monitor target/image/monitor.sock --ctl target/image/ctl.sock

# Boot the image non-interactively, power it off with the power key, and
# judge the console; also boots an invalid seed card and a bare baseline.
boot-check: image
    target/debug/ente-image boot-check --kernel target/image/vmlinux --initrd target/image/initramfs.cpio \
        --bare target/image/bare.cpio --invalid-seed /cards/invalid.json --work target/image/check \
        --ente target/debug/ente

# What CI checks besides the tests.
lint:
    cargo fmt --all -- --check
    cargo clippy --locked --workspace --all-targets -- -D warnings
    cargo clippy --locked -p ente --no-default-features --lib --bins -- -D warnings
