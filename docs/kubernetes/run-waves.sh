#!/bin/sh
# Runs the wave Jobs one after another: creates each (kubectl create: they have a generateName), waits until it is
# Complete, and only then creates the next. Kubernetes has no dependencies between Jobs; this is the smallest
# scheduler that gives them one. Run it where kubectl reaches the cluster (a CI job, an operator's shell, or a
# CronJob with a kubectl image and a Role that may create Jobs and read Jobs and Pods).
#
#   docs/kubernetes/run-waves.sh docs/kubernetes/wave-1.yaml docs/kubernetes/wave-2.yaml
#
# Exit status: 0 every wave Complete; 8 every wave ran but some kinds ended with failed entries (exit 8: the pass
# completed, the next run sends those entries again), as one `sdata-sync run` goes on after such a wave; 1 a wave
# failed otherwise (later waves may reference what it did not bring: they are not started).
set -eu

poll=${POLL_SECONDS:-10}
partial=0

# The exit code of the last pod of each completion index: what the index ended with.
last_codes() {
  kubectl get pods -l "batch.kubernetes.io/job-name=$1" --sort-by=.metadata.creationTimestamp \
    -o jsonpath='{range .items[*]}{.metadata.labels.batch\.kubernetes\.io/job-completion-index} {.status.containerStatuses[0].state.terminated.exitCode}{"\n"}{end}' |
    awk 'NF == 2 { last[$1] = $2 } END { for (i in last) print last[i] }'
}

for file in "$@"; do
  job=$(kubectl create -f "$file" -o name)
  name=${job#*/}
  echo "run-waves: $file: $name created" >&2
  while :; do
    state=" $(kubectl get "$job" -o jsonpath='{.status.conditions[?(@.status=="True")].type}') "
    case $state in
      *" Complete "*) echo "run-waves: $name complete" >&2; break ;;
      *" Failed "*)
        codes=$(last_codes "$name" | sort -u | tr '\n' ' ')
        case " $codes" in
          *" 8 "*)
            if [ -z "$(printf '%s\n' $codes | grep -v -x -e 0 -e 8)" ]; then
              echo "run-waves: $name: some kinds ended with failed entries (exit 8); going on, as one run would" >&2
              partial=1
              break
            fi ;;
        esac
        echo "run-waves: $name failed (last exit codes per index: ${codes:-none}); later waves not started" >&2
        exit 1 ;;
    esac
    sleep "$poll"
  done
done
[ "$partial" -eq 0 ] || exit 8
