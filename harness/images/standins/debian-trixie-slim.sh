#!/usr/bin/env bash
# stand-in for: debian:trixie-slim
# faithful: close; the official image too is the minbase package set with the slim dpkg settings
# image: ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# image: CMD ["bash"]
# shell: yes
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

slim_tree trixie
pack
