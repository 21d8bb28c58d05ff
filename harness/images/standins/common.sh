# Shared steps of the stand-in recipes, sourced by each of them (never run on its own).
#
# Every recipe is called as:  RECIPE.sh OUTPUT.tar [ARCH]
#   OUTPUT.tar  where the root filesystem goes, ready for `docker import`
#   ARCH        Debian architecture of the tree (default: amd64)
# and reads from the environment:
#   MIRROR           Debian archive (default: http://deb.debian.org/debian)
#   SECURITY_MIRROR  Debian security archive (default: $MIRROR-security)
# It needs root and mmdebstrap (Debian's tool for minimal Debian trees).
# shellcheck shell=bash

set -euo pipefail

OUTPUT=${1:?usage: $0 OUTPUT.tar [ARCH]}
ARCH=${2:-amd64}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-$MIRROR-security}

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/standin.XXXXXX")
# --one-file-system: if mmdebstrap is killed with /dev, /proc or /sys still mounted inside
# the tree, the clean-up must not walk into them
trap 'rm -rf --one-file-system "$SCRATCH"' EXIT
ROOT=$SCRATCH/rootfs

# The dpkg settings of Debian's official slim images: no documentation (copyright files
# stay), manuals or translations, now or in any package installed later.
SLIM_DPKG=(
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/groff/*'
    --dpkgopt='path-exclude=/usr/share/lintian/*'
    --dpkgopt='path-exclude=/usr/share/linda/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
)
# apt keeps no package cache and fetches no translations in the image's later layers.
SLIM_APT=(
    --aptopt='Dir::Cache::pkgcache ""'
    --aptopt='Dir::Cache::srcpkgcache ""'
    --aptopt='Acquire::Languages "none"'
    --aptopt='Acquire::GzipIndexes "true"'
)

# debian_tree SUITE [MMDEBSTRAP_OPTION...]: a Debian tree of SUITE (with its updates and
# security fixes) in $ROOT; the options choose the variant and packages.
debian_tree() {
    local suite=$1
    shift
    mmdebstrap --quiet --mode=root --format=directory --architectures="$ARCH" "$@" \
        "$suite" "$ROOT" \
        "deb $MIRROR $suite main" \
        "deb $MIRROR $suite-updates main" \
        "deb $SECURITY_MIRROR $suite-security main"
}

# slim_tree SUITE [PACKAGE...]: debootstrap's minbase set plus PACKAGES, slimmed like the
# official debian:SUITE-slim, with the apt sources in deb822 form as the official images.
slim_tree() {
    local suite=$1
    shift
    local include
    include=$(IFS=,; echo "$*")
    # mmdebstrap's own hooks: merged /usr as debootstrap makes it (else bookworm pulls usrmerge
    # and perl), and dpkg without fsync while building (nothing of it stays in the tree).
    debian_tree "$suite" --variant=minbase ${include:+--include="$include"} "${SLIM_DPKG[@]}" \
        "${SLIM_APT[@]}" --hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr \
        --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata
    rm -f "$ROOT/etc/apt/sources.list"
    cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
}

# pack: drop what belongs to the build host or the build itself, then write $OUTPUT.
pack() {
    # The engine provides these at run time; the build host's values must not ship.
    rm -f "$ROOT/etc/resolv.conf" "$ROOT/etc/hostname" "$ROOT/etc/hosts"
    rm -rf "$ROOT"/var/log/apt/* "$ROOT"/var/cache/debconf/*-old "$ROOT"/var/lib/dpkg/*-old
    tar --numeric-owner --sort=name -C "$ROOT" -cf "$OUTPUT" .
}
