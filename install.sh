#!/usr/bin/env bash
# Build ftpy from this checkout and install it; optionally install what
# building CPython needs first. Non-interactive and safe to run repeatedly.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./install.sh [--build-deps | --deps-only] [--tsan] [--max] [--help]

Builds ftpy from this checkout (cargo build --release --locked) and installs
the binary into ${FTPY_INSTALL_DIR:-$HOME/.local/bin}.

Options:
  --build-deps   First install the compiler, tools and headers needed to build
                 CPython from source, using apt-get (Debian/Ubuntu), dnf
                 (Fedora/RHEL), pacman (Arch), zypper (openSUSE) or apk
                 (Alpine). Needs root, or sudo. The list follows ftpy's
                 table of modules per series (src/system/sysdeps.rs); 3.14 adds
                 libzstd for compression.zstd.
  --deps-only    Install only those build dependencies, not ftpy (for a CI job
                 that restored ftpy from a cache but must build CPython).
  --tsan         With --build-deps or --deps-only: also install clang and its
                 ThreadSanitizer runtime, for `ftpy install --profile tsan`
                 (apt-get: clang-19 libclang-rt-19-dev; dnf: clang
                 compiler-rt; elsewhere install clang and compiler-rt).
  --max          With --build-deps or --deps-only: also install clang 19, LLVM
                 and BOLT, for `ftpy install --profile max` (apt-get: clang-19
                 llvm-19 bolt-19; about 600 MB, so it is opt-in).
  -h, --help     Show this help and exit.

Environment:
  FTPY_INSTALL_DIR   Directory to install ftpy into
                     (default: $HOME/.local/bin). Created if missing.
EOF
}

die() {
    printf 'install.sh: error: %s\n' "$*" >&2
    exit 1
}

build_deps=0
deps_only=0
tsan=0
max=0
for arg in "$@"; do
    case "$arg" in
        --build-deps) build_deps=1 ;;
        --deps-only) build_deps=1 deps_only=1 ;;
        --tsan) tsan=1 ;;
        --max) max=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            printf 'install.sh: unknown option: %s\n\n' "$arg" >&2
            usage >&2
            exit 2
            ;;
    esac
done

if { [ "$tsan" -eq 1 ] || [ "$max" -eq 1 ]; } && [ "$build_deps" -eq 0 ]; then
    printf 'install.sh: --tsan and --max add to --build-deps or --deps-only; give one of them\n\n' >&2
    usage >&2
    exit 2
fi

# Resolve the install dir against the caller's cwd before changing directory.
if [ -n "${FTPY_INSTALL_DIR:-}" ]; then
    install_dir=$FTPY_INSTALL_DIR
else
    [ -n "${HOME:-}" ] || die "HOME is not set; set FTPY_INSTALL_DIR to choose where ftpy goes"
    install_dir=$HOME/.local/bin
fi
case "$install_dir" in
    /*) ;;
    *) install_dir=$PWD/$install_dir ;;
esac

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

# Print a command, then run it.
run() {
    printf '+ %s\n' "$*"
    "$@"
}

# Set $sudo to the prefix that runs commands as root ("" when already root);
# if root is impossible, print the commands to run as root and exit.
pick_sudo() {
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1; then
        if [ -t 0 ]; then
            sudo=(sudo)
        else
            # No terminal to type a password into: fail instead of hanging.
            sudo=(sudo -n)
        fi
    else
        {
            echo "install.sh: error: installing build dependencies needs root, and sudo is not available."
            echo "Run these commands as root, then rerun ./install.sh without --build-deps:"
            local cmd
            for cmd in "$@"; do
                echo "  $cmd"
            done
        } >&2
        exit 1
    fi
}

install_build_deps() {
    local -a cmds
    # What --tsan adds (clang and its TSan runtime), where ftpy knows the packages.
    local tsan_cmd=""
    # What --max adds (clang 19, llvm-profdata, llvm-bolt and merge-fdata).
    local max_cmd=""
    if command -v apt-get >/dev/null 2>&1; then
        tsan_cmd="env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang-19 libclang-rt-19-dev"
        max_cmd="env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang-19 llvm-19 bolt-19"
        cmds=(
            "env DEBIAN_FRONTEND=noninteractive apt-get update"
            "env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends build-essential make pkg-config libssl-dev zlib1g-dev libffi-dev libsqlite3-dev liblzma-dev libbz2-dev libreadline-dev uuid-dev libgdbm-dev tk-dev libzstd-dev ca-certificates xz-utils"
        )
    elif command -v dnf >/dev/null 2>&1; then
        tsan_cmd="dnf install -y clang compiler-rt"
        cmds=(
            "dnf install -y gcc make pkgconf-pkg-config openssl-devel zlib-devel libffi-devel sqlite-devel xz-devel bzip2-devel readline-devel libuuid-devel gdbm-devel tk-devel libzstd-devel xz"
        )
    elif command -v pacman >/dev/null 2>&1; then
        cmds=(
            "pacman -S --needed --noconfirm base-devel make pkgconf openssl zlib libffi sqlite xz bzip2 readline util-linux-libs gdbm tk zstd"
        )
    elif command -v zypper >/dev/null 2>&1; then
        cmds=(
            "zypper install -y gcc make pkg-config libopenssl-devel zlib-devel libffi-devel sqlite3-devel xz-devel libbz2-devel readline-devel libuuid-devel gdbm-devel tk-devel libzstd-devel xz"
        )
    elif command -v apk >/dev/null 2>&1; then
        cmds=(
            "apk add --no-cache build-base make pkgconf openssl-dev zlib-dev libffi-dev sqlite-dev xz-dev bzip2-dev readline-dev util-linux-dev gdbm-dev tk-dev zstd-dev linux-headers xz"
        )
    else
        cat >&2 <<'EOT'
install.sh: error: no supported package manager found (apt-get, dnf, pacman, zypper or apk).
Install these with your system's package manager, then rerun without --build-deps:
  - a C compiler and linker (gcc or clang), make, pkg-config
  - xz (to unpack .tar.xz sources), CA certificates
  - development headers for: OpenSSL, zlib, libffi, SQLite 3, liblzma (xz),
    bzip2, zstd (3.14 and later), readline, libuuid, gdbm, Tk
EOT
        exit 1
    fi
    if [ "$tsan" -eq 1 ]; then
        [ -n "$tsan_cmd" ] || die "--tsan: ftpy knows clang's packages for apt-get and dnf only; install clang and its compiler-rt (TSan runtime) with your package manager"
        cmds+=("$tsan_cmd")
    fi
    if [ "$max" -eq 1 ]; then
        [ -n "$max_cmd" ] || die "--max: ftpy knows the packages of clang 19 and BOLT for apt-get only; install clang 19 or later with llvm-profdata, llvm-bolt and merge-fdata beside it"
        cmds+=("$max_cmd")
    fi
    local -a sudo
    pick_sudo "${cmds[@]}"
    local cmd
    local -a argv
    for cmd in "${cmds[@]}"; do
        # The commands above are plain words: splitting on spaces is exact.
        read -r -a argv <<<"$cmd"
        if ! run "${sudo[@]}" "${argv[@]}"; then
            if [ "${#sudo[@]}" -gt 0 ]; then
                die "'$cmd' failed through sudo; run ./install.sh --build-deps as root, or from a terminal where sudo can ask for a password"
            fi
            die "'$cmd' failed; see its output above"
        fi
    done
}

find_cargo() {
    if command -v cargo >/dev/null 2>&1; then
        command -v cargo
    elif [ -n "${HOME:-}" ] && [ -x "$HOME/.cargo/bin/cargo" ]; then
        # rustup installs here; non-login shells (Docker RUN, CI) often lack it on PATH.
        printf '%s\n' "$HOME/.cargo/bin/cargo"
    else
        return 1
    fi
}

if [ "$build_deps" -eq 1 ]; then
    echo "==> Installing CPython build dependencies"
    install_build_deps
fi
if [ "$deps_only" -eq 1 ]; then
    exit 0
fi

cargo_bin=$(find_cargo) || die "cargo not found. Install Rust 1.89 or newer first, via rustup (https://rustup.rs), then rerun."

# ftpy needs Rust 1.89 (edition 2024, std file locks); distribution packages are often older.
cargo_version=$("$cargo_bin" --version | awk '{print $2}')
case "$cargo_version" in
    1.[0-9].* | 1.[0-7][0-9].* | 1.8[0-8].*)
        die "cargo $cargo_version is too old: ftpy needs Rust 1.89 or newer. Install it with rustup (https://rustup.rs) or run 'rustup update', then rerun."
        ;;
esac

echo "==> Building ftpy in $script_dir"
cd -- "$script_dir"
run "$cargo_bin" build --release --locked

target_dir=${CARGO_TARGET_DIR:-$script_dir/target}
built=$target_dir/release/ftpy
[ -x "$built" ] || die "build finished but $built was not found"

echo "==> Installing ftpy into $install_dir"
mkdir -p -- "$install_dir"
tmp=$(mktemp "$install_dir/.ftpy.tmp.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cp -- "$built" "$tmp"
chmod 0755 -- "$tmp"
mv -f -- "$tmp" "$install_dir/ftpy"
trap - EXIT

echo "Installed ftpy to $install_dir/ftpy"

# Shell completions and the man page, beside the binary's directory: ~/.local/share for
# ~/.local/bin, /usr/local/share for /usr/local/bin.
share_dir=$(dirname -- "$install_dir")/share
install_generated() { # FILE COMMAND...
    local file=$1; shift
    mkdir -p -- "$(dirname -- "$file")"
    "$install_dir/ftpy" "$@" >"$file.tmp" && mv -f -- "$file.tmp" "$file"
}
install_generated "$share_dir/bash-completion/completions/ftpy" completions bash
install_generated "$share_dir/zsh/site-functions/_ftpy" completions zsh
install_generated "$share_dir/fish/vendor_completions.d/ftpy.fish" completions fish
# ftpy.1 and a page per subcommand (ftpy-install.1, ...), each written whole and renamed in.
"$install_dir/ftpy" man --dir "$share_dir/man/man1" >/dev/null
echo "Installed completions (bash, zsh, fish) and the man pages under $share_dir"
case ":${PATH:-}:" in
    *":$install_dir:"*) ;;
    *)
        echo
        echo "$install_dir is not on your PATH. Add it with:"
        # shellcheck disable=SC2016  # $PATH is meant literally here
        printf '  export PATH="%s:$PATH"\n' "$install_dir"
        ;;
esac
