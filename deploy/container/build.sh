#!/usr/bin/env bash
# Builds viewtron-bridge as a static (musl) release binary on this host, and
# the container image (deploy/container/Containerfile, FROM scratch) around
# it. No toolchain image and no registry are needed: the image holds only
# the binary and an empty /data.
#
#   bash deploy/container/build.sh [amd64|arm64] [--binary-only] [--tag NAME]
#
#   amd64 | arm64   the image's architecture (default: this host's);
#                   x86_64-unknown-linux-musl or aarch64-unknown-linux-musl
#   --binary-only   build and stage the binary, no image (no podman/docker
#                   needed), e.g. to check a cross build
#   --tag NAME      the image's name (default viewtron-bridge:<version>-<arch>)
#
# Needs: cargo and the musl target (added with rustup when missing); a C
# compiler for the target, for ring (rustls's crypto, used by the https
# webhooks): musl-gcc (Debian: musl-tools) for this host's own
# architecture; for the other one aarch64-linux-musl-gcc or
# aarch64-linux-gnu-gcc (Debian: gcc-aarch64-linux-gnu), resp.
# x86_64-linux-musl-gcc or x86_64-linux-gnu-gcc. A cross build links with
# rust-lld, which ships with rustc. Override with CC_<target> / the usual
# CARGO_TARGET_<TRIPLE>_LINKER. The image: podman (preferred) or docker,
# or CONTAINER_ENGINE=...
#
# The zone database: TZ=Europe/Berlin works in the vendor's image (its base
# has tzdata), so the image carries this host's /usr/share/zoneinfo (without
# its right/ and posix/ copies: about 0.7 MB), or ZONEINFO=<folder>.
#
# The release profile is the workspace's, without debug info and stripped
# (CARGO_PROFILE_RELEASE_DEBUG/STRIP): the image carries no symbols.
# CARGO_TARGET_DIR is honoured. The build context is staged in
# <target dir>/container/<arch>/. Prints, as its last line, the image's
# name (or with --binary-only the binary's path).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

say() { echo "container-build: $*" >&2; }
die() {
    say "$*"
    exit 1
}

case "$(uname -m)" in
x86_64 | amd64) host_arch=amd64 ;;
aarch64 | arm64) host_arch=arm64 ;;
*) host_arch=other ;;
esac

arch=
binary_only=false
tag=
while [ $# -gt 0 ]; do
    case "$1" in
    amd64 | arm64) arch=$1 ;;
    --binary-only) binary_only=true ;;
    --tag)
        [ $# -ge 2 ] || die "--tag needs a name"
        tag=$2
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *) die "unknown argument '$1' (expected amd64, arm64, --binary-only, --tag NAME)" ;;
    esac
    shift
done
if [ -z "$arch" ]; then
    [ "$host_arch" != other ] || die "this host is $(uname -m): name the architecture, amd64 or arm64"
    arch=$host_arch
fi

case "$arch" in
amd64)
    triple=x86_64-unknown-linux-musl
    gnu=x86_64-linux-gnu
    file_arch='x86-64'
    ;;
arm64)
    triple=aarch64-unknown-linux-musl
    gnu=aarch64-linux-gnu
    file_arch='ARM aarch64'
    ;;
esac
triple_env=$(echo "$triple" | tr 'a-z-' 'A-Z_')
cc_var=CC_$(echo "$triple" | tr '-' '_')
linker_var=CARGO_TARGET_${triple_env}_LINKER

command -v cargo >/dev/null || die "cargo is not installed"

# The Rust target.
if command -v rustup >/dev/null; then
    installed=$(rustup target list --installed)
    if ! grep -qx "$triple" <<<"$installed"; then
        say "adding the Rust target $triple (rustup)"
        rustup target add "$triple" >&2
    fi
fi

# A C compiler for ring's C and assembly, for the target.
if [ -z "${!cc_var:-}" ]; then
    candidates=("${gnu%%-*}-linux-musl-gcc")
    [ "$arch" != "$host_arch" ] || candidates=(musl-gcc "${candidates[@]}")
    [ "$arch" = "$host_arch" ] || candidates+=("$gnu-gcc")
    for c in "${candidates[@]}"; do
        if command -v "$c" >/dev/null; then
            export "$cc_var=$c"
            break
        fi
    done
    if [ -z "${!cc_var:-}" ]; then
        if [ "$arch" = "$host_arch" ]; then
            hint="apt-get install musl-tools"
        else
            hint="apt-get install gcc-$gnu"
        fi
        die "no C compiler for $triple (tried ${candidates[*]}; ring needs one): $hint, or set $cc_var"
    fi
    # The archiver that goes with a cross gcc.
    ar_var=AR_$(echo "$triple" | tr '-' '_')
    if [ "$arch" != "$host_arch" ] && [ -z "${!ar_var:-}" ] && command -v "${!cc_var%-gcc}-ar" >/dev/null; then
        export "$ar_var=${!cc_var%-gcc}-ar"
    fi
fi
# Linking: the host's cc for its own architecture (rustc brings musl's crt
# and libc); rust-lld for the other one.
if [ "$arch" != "$host_arch" ] && [ -z "${!linker_var:-}" ]; then
    export "$linker_var=rust-lld"
fi

say "building viewtron-bridge for $triple (C compiler ${!cc_var}, linker ${!linker_var:-default})"
export CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols
(cd "$root" && cargo build --release -p viewtron-bridge --target "$triple" >&2)

metadata=$(cd "$root" && cargo metadata --format-version 1 --no-deps)
target_dir=$(printf '%s' "$metadata" | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
version=$(printf '%s' "$metadata" | grep -o '"name":"viewtron-bridge","version":"[^"]*"' | cut -d'"' -f8)
[ -n "$target_dir" ] || die "cannot find cargo's target directory"
[ -n "$version" ] || version=dev
binary=$target_dir/$triple/release/viewtron-bridge
[ -x "$binary" ] || die "no binary at $binary"

# Static and for the right machine, or the image will not start.
if command -v file >/dev/null; then
    what=$(file -b "$binary")
    case "$what" in *"$file_arch"*) ;; *) die "$binary is not $file_arch: $what" ;; esac
    case "$what" in *static*) ;; *) die "$binary is not statically linked: $what" ;; esac
    say "binary: $what"
else
    say "binary: $binary (no 'file' here to check it)"
fi
say "binary size: $(wc -c <"$binary") bytes"

# The build context: the binary, the zone database and the empty folder
# that becomes /data.
zoneinfo=${ZONEINFO:-/usr/share/zoneinfo}
[ -f "$zoneinfo/Europe/Berlin" ] ||
    die "no zone database at $zoneinfo (apt-get install tzdata, or set ZONEINFO=<folder>)"
context=$target_dir/container/$arch
rm -rf "$context"
mkdir -p "$context/data" "$context/zoneinfo"
chmod 0755 "$context/data" "$context/zoneinfo"
cp "$binary" "$context/viewtron-bridge"
tar -C "$zoneinfo" --exclude=./right --exclude=./posix -cf - . | tar -C "$context/zoneinfo" -xf -

if $binary_only; then
    echo "$context/viewtron-bridge"
    exit 0
fi

# CONTAINER_ENGINE may be a command with arguments ("sudo -n podman").
read -r -a engine <<<"${CONTAINER_ENGINE:-}"
if [ "${#engine[@]}" -eq 0 ]; then
    for e in podman docker; do
        if command -v "$e" >/dev/null; then
            engine=("$e")
            break
        fi
    done
fi
[ "${#engine[@]}" -gt 0 ] || die "neither podman nor docker is installed (or use --binary-only)"
tag=${tag:-viewtron-bridge:$version-$arch}
format=()
# podman writes OCI images by default, which have no HEALTHCHECK; and
# without --layers=false it leaves an image behind for every step.
[ "$(basename "${engine[${#engine[@]}-1]}")" != podman ] || format=(--format docker --layers=false)
say "building the image $tag with ${engine[*]}"
"${engine[@]}" build "${format[@]}" --platform "linux/$arch" \
    --build-arg "VERSION=$version" \
    -f "$here/Containerfile" -t "$tag" "$context" >&2
echo "$tag"
