#!/bin/sh
# Runs `python -m <module> [args]`. Secrets may come as files (Docker/Kubernetes secrets):
# for each PRISME_<NAME>_FILE set, PRISME_<NAME> is read from that file.
set -eu
for var in $(env | sed -n 's/^\(PRISME_[A-Z0-9_]*\)_FILE=.*/\1/p'); do
  file=$(printenv "${var}_FILE")
  value=$(cat "$file")
  export "$var=$value"
  unset "${var}_FILE"
done
module="$1"
shift
exec python -m "$module" "$@"
