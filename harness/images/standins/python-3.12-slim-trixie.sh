#!/usr/bin/env bash
# stand-in for: python:3.12-slim-trixie
# faithful: python.org's CPython 3.12 source built --enable-shared (by pyenv, on this machine)
#   and moved to /usr/local of a trixie slim tree, as the official image has it; built on
#   Debian 12, so it links Debian 12's sonames (trixie has them all); no tkinter or nis
# image: ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# image: ENV LANG=C.UTF-8
# image: CMD ["python3"]
# shell: yes
# python: 3.12
# needs: a CPython 3.12 build (CPYTHON_PREFIX) and patchelf (PATCHELF), found by base_images.py
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

PREFIX=${CPYTHON_PREFIX:?CPYTHON_PREFIX must name a CPython 3.12 install, e.g. ~/.pyenv/versions/3.12.1}
PATCHELF=${PATCHELF:-patchelf}

# The shared libraries its standard modules load (those of the official image's runtime set).
slim_tree trixie ca-certificates netbase tzdata libssl3t64 libsqlite3-0 libffi8 liblzma5 \
    libbz2-1.0 zlib1g libncursesw6 libtinfo6 libreadline8t64 libuuid1 libexpat1 libcrypt1
LOCAL=$ROOT/usr/local
# What the official image deletes after its build (tests, caches, static libraries) stays
# out, and so do tkinter (no X libraries in a slim image), nis (deprecated; needs libnsl) and
# whatever else the build's own site-packages gathered beyond pip.
tar -C "$PREFIX" -c \
    --exclude='test' --exclude='tests' --exclude='idle_test' --exclude='__pycache__' \
    --exclude='*.pyc' --exclude='libpython*.a' --exclude='tkinter' --exclude='turtledemo' \
    --exclude='_tkinter*.so' --exclude='_nis*.so' --exclude='python3.12-gdb.py' \
    --exclude='site-packages/*' --exclude='share' \
    bin include lib | tar -C "$LOCAL" -x
cp -a "$PREFIX"/lib/python3.12/site-packages/pip "$PREFIX"/lib/python3.12/site-packages/pip-*.dist-info \
    "$LOCAL/lib/python3.12/site-packages/"
rm -f "$LOCAL"/bin/2to3* "$LOCAL"/bin/idle "$LOCAL"/bin/pydoc "$LOCAL"/bin/python-config
find "$LOCAL" -depth -name __pycache__ -exec rm -rf {} +
# The build's own prefix, wherever it was written as text (script shebangs, sysconfig data,
# the config Makefile), becomes /usr/local; the ELF files carry it as their RUNPATH.
grep -rlIF "$PREFIX" "$LOCAL" | xargs -r sed -i "s|$PREFIX|/usr/local|g"
# The official build links with --strip-all; pyenv's keeps its debug symbols (30 MB of
# libpython alone): strip them as the official image has none (binutils' strip, where found).
find "$LOCAL" -type f \( -name 'python3.12' -o -name '*.so*' \) -print0 |
    while IFS= read -r -d '' elf; do
        if "$PATCHELF" --print-rpath "$elf" 2>/dev/null | grep -qF "$PREFIX"; then
            "$PATCHELF" --set-rpath /usr/local/lib "$elf"
        fi
        if command -v strip >/dev/null; then
            strip --strip-unneeded "$elf"
        fi
    done
# (the interpreter keeps it compiled in as its last-resort prefix, never used once it finds
# lib/python3.12/os.py beside its own bin/)
if grep -rlIF "$PREFIX" "$LOCAL"; then
    echo "the build's prefix $PREFIX is still named in the text files above" >&2
    exit 1
fi
# As the official image: libpython in the linker cache, and the plain python name.
ldconfig -r "$ROOT"
ln -sf python3 "$LOCAL/bin/python"
pack
