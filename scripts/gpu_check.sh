#!/usr/bin/env bash
# Ready for the GPU: build a ~105k-clip set, time kws-train's epochs for cnn and bcresnet in fp32 and bf16,
# with and without torch.compile; the last line is one JSON object (also in data/gpu_check/gpu_check.json).
#   scripts/gpu_check.sh            # on a CUDA machine, under 8 minutes
#   scripts/gpu_check.sh --cpu      # dry run on a small set on the CPU (what CI runs)
# Other options pass through to scripts/gpu_check.py (--work, --out, --epochs, --batch-size, --budget-s).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python}"
"$python" -c 'import kws' 2>/dev/null || { echo "gpu_check: $python cannot import kws: install it (make install) or set PYTHON=.venv/bin/python" >&2; exit 1; }
exec "$python" "$here/gpu_check.py" "$@"
