#!/usr/bin/env bash
# Builds the viewtron-bridge image for amd64 and arm64 and publishes both
# under one name, as a manifest list (docker/podman pull picks the right one):
#
#   podman login <registry>                                # once
#   bash deploy/container/release.sh <registry>/<owner>/viewtron-bridge --push
#
# NEVER RUN WITH --push: the machine this was written and tested on reaches
# no container registry, so the push step is untested. Everything before it
# was run there: without --push (the default) the script builds both images
# (deploy/container/build.sh amd64 and arm64: static musl binaries, the
# arm64 one cross-built) and the manifest list locally, checks the list
# names linux/amd64 and linux/arm64, and prints what --push would publish.
#
# Tags: <name>:<version> (the bridge's Cargo.toml version) and
# <name>:latest, each a manifest list of <name>:<version>-amd64 and
# <name>:<version>-arm64 (pushed too). Needs podman (its `manifest`
# commands work on local images; docker's need the images pushed first),
# and what build.sh needs for both architectures (musl-tools,
# gcc-aarch64-linux-gnu on Debian).
#
#   --keep    leave the local images and list in place (default: removed
#             at the end, as they are only staging for the push)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

say() { echo "container-release: $*" >&2; }
die() {
    say "$*"
    exit 1
}

name=
push=false
keep=false
while [ $# -gt 0 ]; do
    case "$1" in
    --push) push=true ;;
    --keep) keep=true ;;
    -h | --help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    -*) die "unknown option '$1'" ;;
    *)
        [ -z "$name" ] || die "one image name only"
        name=$1
        ;;
    esac
    shift
done
[ -n "$name" ] || die "usage: release.sh <registry>/<owner>/viewtron-bridge [--push] [--keep]"
[[ ${name##*/} != *:* ]] || die "give the name without a tag: $name"
command -v podman >/dev/null || die "podman is needed (its manifest commands)"

version=$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    grep -o '"name":"viewtron-bridge","version":"[^"]*"' | cut -d'"' -f8)
[ -n "$version" ] || die "cannot read the bridge's version"

arches=(amd64 arm64)
images=()
cleanup() {
    $keep && return
    podman manifest rm "$name:$version" >/dev/null 2>&1 || true
    podman manifest rm "$name:latest" >/dev/null 2>&1 || true
    for image in "${images[@]}"; do
        podman rmi "$image" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT

for arch in "${arches[@]}"; do
    image=$name:$version-$arch
    say "building $image"
    CONTAINER_ENGINE=podman bash "$here/build.sh" "$arch" --tag "$image" >/dev/null
    images+=("$image")
done

for tag in "$version" latest; do
    list=$name:$tag
    podman manifest rm "$list" >/dev/null 2>&1 || true
    podman manifest create "$list" >/dev/null
    for image in "${images[@]}"; do
        podman manifest add "$list" "containers-storage:$image" >/dev/null
    done
    platforms=$(podman manifest inspect "$list" |
        grep -o '"architecture": *"[^"]*"\|"os": *"[^"]*"' | tr -d ' "' | paste -sd' ')
    for arch in "${arches[@]}"; do
        [[ $platforms == *"architecture:$arch"* ]] || die "$list does not list $arch: $platforms"
    done
    say "manifest list $list: $platforms"
done

if ! $push; then
    say "not pushed (no --push). --push would run:"
    for image in "${images[@]}"; do
        say "  podman push $image docker://$image"
    done
    for tag in "$version" latest; do
        say "  podman manifest push --all $name:$tag docker://$name:$tag"
    done
    exit 0
fi

for image in "${images[@]}"; do
    podman push "$image" "docker://$image"
done
for tag in "$version" latest; do
    podman manifest push --all "$name:$tag" "docker://$name:$tag"
done
say "pushed $name:$version and $name:latest (linux/amd64, linux/arm64)"
