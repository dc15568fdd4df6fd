#!/usr/bin/env bash
# t_exports.sh — libvs2.so exports exactly the public API: `nm -D --defined-only` lists only
# vs2_ functions, each declared VS2_API in include/vs2.h, and every function vs2.h declares is
# VS2_API and exported (a declaration without the macro would be missing from the library).
set -u
: "${VS2_BUILD_DIR:?run through ctest}" "${VS2_SOURCE_DIR:?run through ctest}"
command -v nm >/dev/null || { echo "nm not found: skipped"; exit 77; }
SO="$VS2_BUILD_DIR/libvs2.so"
H="$VS2_SOURCE_DIR/include/vs2.h"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
[ -f "$SO" ] || { fail "$SO missing"; exit 1; }

exported=$(nm -D --defined-only "$SO" | awk '{print $3}' | sed 's/@.*//' | sort -u)
# Declarations: a name followed by '(' at the start of a declaration line, outside comments;
# typedefs of function pointers ("(*name)") do not match.
declared=$(sed -e 's|/\*.*\*/||g' -e '/^ *\*/d' -e '/^ *\/\*/d' "$H" |
           grep -E '^(VS2_API )?[A-Za-z_][A-Za-z0-9_ ]*[ *]vs2_[a-z0-9_]+\(' |
           grep -v '^typedef' | grep -oE 'vs2_[a-z0-9_]+\(' | tr -d '(' | sort -u)
marked=$(grep -oE '^VS2_API [^(]*vs2_[a-z0-9_]+\(' "$H" | grep -oE 'vs2_[a-z0-9_]+\($' | tr -d '(' | sort -u)

[ "$(wc -l <<<"$exported")" -ge 80 ] || fail "only $(wc -l <<<"$exported") symbols exported"
bad=$(grep -v '^vs2_' <<<"$exported")
[ -z "$bad" ] || fail "exported symbols outside the API: $(tr '\n' ' ' <<<"$bad")"
extra=$(comm -23 <(echo "$exported") <(echo "$marked"))
[ -z "$extra" ] || fail "exported but not VS2_API in vs2.h: $(tr '\n' ' ' <<<"$extra")"
missing=$(comm -13 <(echo "$exported") <(echo "$marked"))
[ -z "$missing" ] || fail "VS2_API in vs2.h but not exported: $(tr '\n' ' ' <<<"$missing")"
unmarked=$(comm -23 <(echo "$declared") <(echo "$marked"))
[ -z "$unmarked" ] || fail "declared in vs2.h without VS2_API: $(tr '\n' ' ' <<<"$unmarked")"
# The internal building blocks and helpers stay hidden.
for s in vs2_smart_resize vs2__fail ev_buf_puts vs2k_select; do
    grep -qx "$s" <<<"$exported" && fail "$s is exported"
done

# The command uses vs2.h only, except the files CMakeLists.txt names (vs2 bench: internal stages;
# vs2 batch, vs2 merge: the JSONL journal and JSON helpers).
internal=$(grep -lE '#include "(internal|engine_internal|llm|vision|bench_peak|eval/eval_internal|video_plan)\.h"' \
           "$VS2_SOURCE_DIR"/src/cli/*.c "$VS2_SOURCE_DIR"/src/cli/*.h | xargs -n1 basename | sort | tr '\n' ' ')
[ "$internal" = "batch.c bench.c merge.c " ] || fail "src/cli files using internal headers: '$internal'"

[ $fails -eq 0 ] && echo "t_exports: $(wc -l <<<"$exported") symbols, all vs2_ API"
[ $fails -eq 0 ]
