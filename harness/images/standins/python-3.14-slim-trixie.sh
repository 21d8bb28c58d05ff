#!/usr/bin/env bash
# stand-in for: python:3.14-slim-trixie
# faithful: Debian sid's python3 3.14 in /usr/bin (linked from /usr/local/bin) on a sid tree,
#   not python.org's build in /usr/local on trixie (sid's python3.14 needs sid's glibc 2.42);
#   apt reads sid, and accepts its Release file past its one-week Valid-Until (mirror snapshots)
# image: ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# image: ENV LANG=C.UTF-8
# image: CMD ["python3"]
# shell: yes
# python: 3.14
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

# sid (unstable) is updated in place: it has no -updates or -security suite for common.sh's
# debian_tree to add, so this recipe's tree names sid alone (common.sh stays as the other
# recipes hash it). sid's Release file is valid for a week only, and a mirror that serves a
# snapshot (as this machine's does) serves it expired: apt here and in the image accepts it
# (mmdebstrap keeps its --aptopt lines in the tree's /etc/apt/apt.conf.d/99mmdebstrap).
debian_tree() {
    local suite=$1
    shift
    mmdebstrap --quiet --mode=root --format=directory --architectures="$ARCH" \
        --aptopt='Acquire::Check-Valid-Until "false"' "$@" \
        "$suite" "$ROOT" "deb $MIRROR $suite main"
}

slim_tree sid python3 python3-venv python3-pip python-is-python3 ca-certificates
# python:*-slim lets pip install into the system Python; Debian's marker forbids it.
rm -f "$ROOT"/usr/lib/python3*/EXTERNALLY-MANAGED
# python:*-slim keeps python and pip in /usr/local/bin; Dockerfiles may name those paths.
for name in python python3 python3.14 pip pip3; do
    ln -s "/usr/bin/$name" "$ROOT/usr/local/bin/$name"
done
ln -s /usr/bin/pip3 "$ROOT/usr/local/bin/pip3.14"
cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
pack
