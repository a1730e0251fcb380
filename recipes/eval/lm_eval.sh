#!/bin/bash
# Domain and general benchmarks with lm-evaluation-harness, one lm_eval run per suite of
# recipes/eval/tasks.yaml. Run it on the base model and on the trained one, then compare.
#
#   bash recipes/eval/lm_eval.sh mistralai/Mistral-7B-v0.3 finance general commonsense
#   bash recipes/eval/lm_eval.sh outputs/mistral-7b-v0.3-finance-cpt finance general commonsense
#   LM_EVAL="accelerate launch -m lm_eval" bash recipes/eval/lm_eval.sh MODEL biomedicine
#   bash recipes/eval/lm_eval.sh MODEL finance -- --limit 50      # options after -- go to lm_eval
#
# Needs `pip install lm-eval` and access to the benchmark datasets (the Hub, or a warm
# HF_DATASETS_CACHE). Results land in $OUT/<suite>/ (default eval-results/<model name>/).
# DRY_RUN=1 prints the commands instead of running them.
set -euo pipefail

MODEL=${1:?usage: lm_eval.sh MODEL SUITE [SUITE...] [-- LM_EVAL OPTIONS]}
shift
SUITES=()
while (( $# )) && [[ "$1" != "--" ]]; do SUITES+=("$1"); shift; done
[[ "${1:-}" == "--" ]] && shift
(( ${#SUITES[@]} )) || { echo "name at least one suite of recipes/eval/tasks.yaml" >&2; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-eval-results/$(basename "$MODEL")}
read -r -a LAUNCH <<< "${LM_EVAL:-lm_eval}"

for suite in "${SUITES[@]}"; do
  spec=$("${PYTHON:-python}" - "$HERE/tasks.yaml" "$suite" <<'PY'
import sys, yaml
suites = yaml.safe_load(open(sys.argv[1]))["suites"]
if sys.argv[2] not in suites:
    sys.exit(f"unknown suite {sys.argv[2]!r}; choose from {sorted(suites)}")
suite = suites[sys.argv[2]]
print(suite["num_fewshot"], ",".join(suite["tasks"]))
PY
  )
  read -r fewshot tasks <<< "$spec"
  command=(
    "${LAUNCH[@]}" --model hf
    --model_args "pretrained=$MODEL,dtype=${DTYPE:-bfloat16}"
    --tasks "$tasks" --num_fewshot "$fewshot"
    --batch_size "${BATCH_SIZE:-auto}"
    --output_path "$OUT/$suite"
    "$@"
  )
  if [[ "${DRY_RUN:-0}" == 1 ]]; then
    printf '%q ' "${command[@]}"
    echo
  else
    "${command[@]}"
  fi
done
