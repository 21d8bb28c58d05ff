#!/usr/bin/env bash
# Puts this machine back as it was before tasks.py's first install (docs/fresh-machine.md).
# What to remove is derived: every Debian package not in the baseline that harness/machine/needs.py
# recorded before it installed anything, then what the runs leave behind. Run as root.
#   scripts/purge-to-new.sh --dry-run    # print what would go, change nothing
#   scripts/purge-to-new.sh              # purge it
set -euo pipefail
cd "$(dirname "$0")/.."

# the place harness/machine/needs.py records it (BASELINE there); tests point it elsewhere
BASELINE="${TASK_API_BASELINE:-/var/lib/task-api-template/baseline-packages.txt}"
DRY_RUN=0
[[ "${1:-}" == "--dry-run" ]] && DRY_RUN=1

if [[ ! -s "$BASELINE" ]]; then
  echo "no baseline at $BASELINE: tasks.py records it before its first install;" \
    "without it nothing here can tell what the machine had, so nothing is removed" >&2
  exit 2
fi

run() {
  echo "+ $*"
  if ((DRY_RUN == 0)); then "$@"; fi
}

# Packages installed since: the current list minus the baseline (both as dpkg-query lists them)
mapfile -t added < <(comm -13 <(sort -u "$BASELINE") \
  <(dpkg-query -W -f='${Package}\n' | sort -u))
echo "${#added[@]} packages installed since the baseline: ${added[*]:-none}"

# Leftovers of the runs: engine state, stand-in locks and scratch trees, the tools' caches
tmp="${TMPDIR:-/tmp}"
leftovers=(
  /var/lib/docker /var/lib/containerd /var/lib/docker-registry /etc/docker /run/docker.sock
  # the Compose v2 and buildx plugins the machine check unpacks (dpkg -x), which no package owns
  /usr/libexec/docker/cli-plugins/docker-compose /usr/libexec/docker/cli-plugins/docker-buildx
  .venv reports .cache .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
  "$HOME/.cache/pip" "$HOME/.npm"
)
# the harness's temp names (harness/, benchmarks/: mkdtemp and TemporaryDirectory prefixes),
# left behind when a run is killed, and pytest's own temp trees
for path in "$tmp"/task-api-* "$tmp"/standin* "$tmp"/build-secrets-* "$tmp"/buildkit-probe-* \
  "$tmp"/update-preview-* "$tmp"/bench-dockerfile-* "$tmp"/pytest-of-*; do
  [[ -e "$path" ]] && leftovers+=("$path")
done

# The engine first: its files cannot go while dockerd (started with setsid) holds them. A
# pid file can outlive its daemon (the machine was reset under it): only a live one is killed.
for pidfile in /var/run/docker.pid /run/docker/containerd/containerd.pid; do
  if [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    run kill "$(cat "$pidfile")"
  fi
done
if ((DRY_RUN == 0)); then
  for _ in $(seq 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
fi

if ((${#added[@]})); then
  run env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${added[@]}"
fi
run env DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y -qq

# qemu's binfmt_misc entries stay registered in the kernel after the package is gone
for entry in /proc/sys/fs/binfmt_misc/qemu-*; do
  [[ -e "$entry" ]] || continue
  echo "+ echo -1 > $entry"
  if ((DRY_RUN == 0)); then echo -1 >"$entry"; fi
done

for path in "${leftovers[@]}"; do
  if mountpoint -q "$path"; then # a disk of its own for the engine (some machines): empty it
    run find "$path" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  elif [[ -e "$path" || -L "$path" ]]; then
    run rm -rf "$path"
  fi
done
echo "left in place: $BASELINE (it still says what the machine had)"
