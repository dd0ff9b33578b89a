#!/usr/bin/env bash
# Are pyproject.toml's lower bounds true? Installs the lowest versions its [project] dependencies allow
# (uv's lowest-direct resolution: each direct dependency at its lower bound, what they pull in at its newest)
# and kws's wheel into a fresh CPython 3.11 environment, checks every direct dependency got its lower bound,
# imports every kws module, then runs a tiny kws-synth -> kws-train -> kws-eval -> kws-export -> kws-demo ->
# kws-report and a two-trial search in it.
#   scripts/check_lowest_versions.sh          # .ci/run runs it (make check-lowest); ~3 minutes on 2 cores,
#                                             # plus downloading torch and its CUDA libraries into uv's cache
#   UV=/path/to/uv scripts/check_lowest_versions.sh   # another uv than .venv's
# Everything it writes goes to a temporary folder, removed on exit; nothing lands in the checkout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
uv=${UV:-.venv/bin/uv}
[[ $uv == */* ]] && uv=$(realpath "$uv")
"$uv" --version > /dev/null 2>&1 || { echo "check_lowest_versions: no uv at $uv: run make install or set UV=" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset PYTHONPATH   # the fresh environment alone, not a checkout on the path

"$uv" pip compile pyproject.toml --resolution lowest-direct --python-version 3.11 \
  --python-platform x86_64-manylinux_2_35 --quiet -o "$tmp/lowest.txt"
"$uv" venv --quiet --python 3.11 "$tmp/venv"
py=$tmp/venv/bin/python
"$uv" pip install --quiet --python "$py" -r "$tmp/lowest.txt"
# kws as `pip install kws` gets it, a wheel (configs/ inside), built from a copy so no build files land here.
mkdir "$tmp/src"
cp -r pyproject.toml README.md kws configs "$tmp/src/"
"$uv" pip install --quiet --python "$py" --no-deps "$tmp/src"

echo "direct dependencies at their lower bounds (CPython 3.11):"
"$py" - "$repo/pyproject.toml" <<'EOF'
import sys
import tomllib
from importlib.metadata import version

from packaging.requirements import Requirement
from packaging.version import Version

wrong = []
with open(sys.argv[1], "rb") as f:
    dependencies = tomllib.load(f)["project"]["dependencies"]
for line in dependencies:
    req = Requirement(line)
    installed = version(req.name)
    lower = max((Version(s.version) for s in req.specifier if s.operator in (">=", "==")), default=None)
    print(f"  {req.name:22} {installed:12} ({req.specifier})")
    if lower is None:
        wrong.append(f"{req.name} has no lower bound (>= or ==)")
    elif Version(installed) != lower:
        wrong.append(f"{req.name} resolved to {installed}, not its lower bound {lower}")
if wrong:
    sys.exit("check_lowest_versions: " + "; ".join(wrong) + ": raise the bound in pyproject.toml")
EOF
"$py" -c 'import importlib, pkgutil, kws
for module in pkgutil.walk_packages(kws.__path__, "kws."):
    importlib.import_module(module.name)'

# A tiny run (4 words, 20 speakers, one epoch of the zoo CNN), from the temporary folder: relative paths
# (the data cache, outputs/) land there too. Then what it leaves out: kws-report (matplotlib) and a
# two-trial Optuna search (hydra-optuna-sweeper) of the pretrained embedding (tflite, pyopen-wakeword).
bin=$tmp/venv/bin
cd "$tmp"
tiny=(data.root="$tmp/data" trainer.max_epochs=1 trainer.accelerator=cpu trainer.enable_progress_bar=false
  data.batch_size=16)
"$bin/kws-synth" data.root="$tmp/data" 'words=[yes,no,up,down]' speakers=20 background_seconds=5
"$bin/kws-train" model=cnn hydra.run.dir="$tmp/run" "${tiny[@]}"
"$bin/kws-eval" ckpt_path="$tmp/run/checkpoints/best.ckpt" hydra.run.dir="$tmp/run/eval" accelerator=cpu
"$bin/kws-export" ckpt_path="$tmp/run/checkpoints/best.ckpt" hydra.run.dir="$tmp/run/export" quantize=static
test -s "$tmp/run/export/model.onnx" && test -s "$tmp/run/export/model.int8.onnx"
# kws-demo (aiohttp) on that export: its page, and a second of audio from its own page's origin answered.
"$py" - "$bin/kws-demo" "$tmp/run/export" <<'EOF'
import asyncio, json, subprocess, sys
import aiohttp
demo = subprocess.Popen([sys.argv[1], sys.argv[2], "--port", "0"], stdout=subprocess.PIPE, text=True)
async def main(url):
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as page:
            assert page.status == 200, page.status
        async with session.ws_connect(url + "api/listen", headers={"Origin": url.rstrip("/")}) as socket:
            await socket.send_bytes(bytes(32000))
            assert (await socket.receive_json())["type"] == "heard"
            await socket.send_str(json.dumps({"type": "stop"}))
            assert (await socket.receive_json())["type"] == "finished"
try:
    asyncio.run(main(demo.stdout.readline().split("open ")[1].split()[0]))
finally:
    demo.terminate()
EOF
"$bin/kws-report" "$tmp/run"
"$bin/kws-train" hparams_search=optuna hydra.sweeper.n_trials=2 model=embedding hydra.sweep.dir="$tmp/sweep" \
  "${tiny[@]}"
test -s "$tmp/sweep/optimization_results.yaml"
echo "check_lowest_versions: the lowest allowed versions install, import, train, evaluate, export, serve (${SECONDS} s)"
