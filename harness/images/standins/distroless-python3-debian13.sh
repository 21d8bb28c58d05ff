#!/usr/bin/env bash
# stand-in for: gcr.io/distroless/python3-debian13
# faithful: the same idea as distroless (named Debian 13 packages unpacked, no shell or package
#   manager, root and nonroot users, CA bundle, UTC), without its exact file list
# image: ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# image: ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# image: ENV LANG=C.UTF-8
# image: ENTRYPOINT ["/usr/bin/python3.13"]
# shell: no
# python: 3.13
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

# Debian 13's python3.13, the libraries its standard modules load (trixie's 64-bit time_t
# names: libssl3t64, libreadline8t64, libdb5.3t64; trixie's OpenSSL loads libzstd), and what
# distroless/cc ships.
PACKAGES=(
    base-files netbase tzdata media-types ca-certificates
    libc6 libgcc-s1 libstdc++6 libssl3t64 zlib1g libexpat1 libffi8 libbz2-1.0 liblzma5
    libsqlite3-0 libuuid1 libcrypt1 libncursesw6 libtinfo6 libreadline8t64 libdb5.3t64 libzstd1
    python3.13-minimal libpython3.13-minimal libpython3.13-stdlib
)

# Like distroless, unpack only the named packages: their Debian dependencies (dpkg, perl,
# debconf, a shell) are what a distroless image leaves out. mmdebstrap fetches them.
debian_tree trixie --variant=extract --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --skip=cleanup/apt/cache "${SLIM_DPKG[@]}"
DEBS=$ROOT/var/cache/apt/archives
ROOT=$SCRATCH/distroless
mkdir -p "$ROOT"
for package in "${PACKAGES[@]}"; do
    dpkg-deb --extract "$(find "$DEBS" -name "${package}_*.deb" -print -quit)" "$ROOT"
done
# dpkg-deb ignores dpkg's path filters: apply the slim ones (copyright files stay).
find "$ROOT/usr/share/doc" -type f ! -name copyright -delete
rm -rf "$ROOT"/usr/share/{man,info,lintian,locale}

# What the packages' maintainer scripts would have made, and distroless makes itself.
cat "$ROOT"/usr/share/ca-certificates/mozilla/*.crt >"$ROOT/etc/ssl/certs/ca-certificates.crt"
ln -sf /usr/share/zoneinfo/Etc/UTC "$ROOT/etc/localtime"
echo Etc/UTC >"$ROOT/etc/timezone"
ln -s python3.13 "$ROOT/usr/bin/python3"
ln -s python3.13 "$ROOT/usr/bin/python"
cat >"$ROOT/etc/passwd" <<'USERS'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
USERS
printf '%s\n' root:x:0: nobody:x:65534: tty:x:5: staff:x:50: nonroot:x:65532: >"$ROOT/etc/group"
printf '%s\n' 'hosts: files dns' 'networks: files' 'passwd: files' 'group: files' \
    'shadow: files' >"$ROOT/etc/nsswitch.conf"
install -d -m 0700 "$ROOT/root"
install -d -m 0700 -o 65532 -g 65532 "$ROOT/home/nonroot"
install -d -m 1777 "$ROOT/tmp"
install -d -m 0755 "$ROOT/var/tmp" "$ROOT/proc" "$ROOT/sys" "$ROOT/dev"
pack
