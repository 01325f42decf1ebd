#!/bin/bash
# Runs one libFuzzer target (named by its .fuzz stamp file) for FUZZ_SECONDS on a copy
# of its seed corpus. Any crash, leak, UB or failed property is a test failure.
set -u
stamp=$1
target=${stamp%.fuzz}
name=$(basename "$target")
seeds="${FUZZ_CORPUS_DIR}/${name#fuzz_}"
work=$(mktemp -d "/tmp/tr7-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
echo "# $name for ${FUZZ_SECONDS}s"
./"$target" -max_total_time="${FUZZ_SECONDS}" -max_len=2048 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work" 2>&1 | tail -n 25
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [ -f "$a" ] && echo "# reproducer: $(basename "$a"): $(xxd -p "$a" | head -c 400)"
  done
fi
exit "$rc"
