#!/usr/bin/env bash
# The quickstart: lines of a file -> Kafka -> another file, on the embedded broker (no Kafka
# to install). Runs `conveyor standalone` with Kafka Connect's classic quickstart configs,
# shows the REST API answering, and stops the worker gracefully.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work=/tmp  # where the .properties files point
input="$work/conveyor-quickstart-input.txt"
output="$work/conveyor-quickstart-output.txt"
rm -f "$output" "$work/conveyor-quickstart.offsets"
for i in $(seq 1 1000); do echo "hello from line $i"; done > "$input"

conveyor standalone "$here/worker.properties" \
  "$here/connect-file-source.properties" "$here/connect-file-sink.properties" &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT

echo "waiting for the lines to arrive in $output ..."
for _ in $(seq 1 120); do
  if [ -f "$output" ] && [ "$(wc -l < "$output")" -ge 1000 ]; then break; fi
  sleep 0.5
done
python3 - <<'PY'
import json, urllib.request
status = json.load(urllib.request.urlopen("http://127.0.0.1:8083/connectors?expand=status"))
for name, s in status.items():
    print(f"{name}: connector {s['status']['connector']['state']}, "
          f"tasks {[t['state'] for t in s['status']['tasks']]}")
PY
echo "$(wc -l < "$output") lines copied; first and last:"
head -1 "$output"; tail -1 "$output"
kill -TERM $worker
wait $worker
trap - EXIT
echo "worker stopped cleanly"
