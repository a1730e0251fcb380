#!/bin/bash
# GPU check (not part of CI): ZeRO-3 CPT of a ~1.1B model for 40 steps on every local GPU, then
# print tokens/s/GPU and peak memory. About 5 minutes on one H100/H200, no network needed
# (the model is random, the tokenizer is the embedded SmolLM2's). Run from the repository root:
#
#   bash recipes/gpu_check/run.sh                 # all GPUs
#   NGPUS=1 WORK=/tmp/gpu-check bash recipes/gpu_check/run.sh
set -euo pipefail

WORK=${WORK:-$(mktemp -d -t metasynth-gpu-check-XXXX)}
NGPUS=${NGPUS:-$(python -c 'import torch; print(torch.cuda.device_count())')}
if (( NGPUS < 1 )); then
  echo "no GPU visible: this check needs at least one" >&2
  exit 2
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
echo "work dir: $WORK, GPUs: $NGPUS"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

[[ -f "$WORK/model/config.json" ]] || python recipes/gpu_check/make_inputs.py --out "$WORK"
start=$(date +%s)
accelerate launch --config_file recipes/accelerate_configs/zero3.yaml --num_processes "$NGPUS" \
  -m metasynth_hf.train --config recipes/gpu_check/cpt.yaml \
  --model_name_or_path "$WORK/model" --dataset_name "$WORK/corpus" --output_dir "$WORK/out" \
  "$@"
echo "wall time of the training launch: $(( $(date +%s) - start )) s"
python - "$WORK/out/train_summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"steps {s['global_step']}, tokens {s['tokens_seen']}, {s['world_size']} GPU(s)")
print(f"tokens/s/GPU: {s['tokens_per_second_per_device']:.0f} (whole run, warm-up included)")
print(f"peak GPU memory (rank 0): {s.get('gpu_peak_allocated_gib', float('nan')):.1f} GiB allocated, "
      f"{s.get('gpu_peak_reserved_gib', float('nan')):.1f} GiB reserved")
print(f"final train loss {s['train_loss']:.3f}")
PY
