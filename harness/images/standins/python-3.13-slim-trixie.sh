#!/usr/bin/env bash
# stand-in for: python:3.13-slim-trixie
# faithful: Debian trixie's python3 3.13 in /usr/bin (linked from /usr/local/bin),
#   not python.org's build in /usr/local
# image: ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# image: ENV LANG=C.UTF-8
# image: CMD ["python3"]
# shell: yes
# python: 3.13
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

slim_tree trixie python3 python3-venv python3-pip python-is-python3 ca-certificates
# python:*-slim lets pip install into the system Python; Debian's marker forbids it.
rm -f "$ROOT"/usr/lib/python3*/EXTERNALLY-MANAGED
# python:*-slim keeps python and pip in /usr/local/bin; Dockerfiles may name those paths.
for name in python python3 python3.13 pip pip3; do
    ln -s "/usr/bin/$name" "$ROOT/usr/local/bin/$name"
done
ln -s /usr/bin/pip3 "$ROOT/usr/local/bin/pip3.13"
pack
