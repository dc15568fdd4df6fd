#!/usr/bin/env bash
# t_tokenizer_cli.sh — `vs2 tokenize` against Hugging Face tokenizers: the valid-UTF-8 corpus
# through --jsonl, decodes through --decode --jsonl (both skip flags), the T-EVAL/T-INF chat ids
# through --chat-video, plus usage and error exits. Needs the tokenizer_reference fixture.
set -euo pipefail
REF="$VS2_TEST_TMP/tokref"
TOKREF="$VS2_SOURCE_DIR/tools/tokref"
if [[ ! -f "$REF/corpus_valid.jsonl" ]]; then
    echo "missing $REF/corpus_valid.jsonl: run tools/tokref/install.sh, then ctest (fixture tokenizer_reference)" >&2
    exit 1
fi
W="$VS2_TEST_TMP/t_tokenizer_cli"
mkdir -p "$W"
fail=0
err() { echo "FAIL: $*" >&2; fail=1; }

# 1. ids of every valid corpus string, byte-identical JSON lines
"$VS2_BIN" tokenize --tokenizer "$REF" --jsonl < "$REF/corpus_valid.jsonl" > "$W/ids.jsonl"
n=$(wc -l < "$REF/corpus_valid_expected.jsonl")
bad=$(paste -d '\t' "$W/ids.jsonl" "$REF/corpus_valid_expected.jsonl" | awk -F '\t' '$1 != $2 {n++} END {print n + 0}')
echo "cli --jsonl: $n strings, $bad mismatches"
[[ "$bad" == 0 && $(wc -l < "$W/ids.jsonl") == "$n" ]] || err "--jsonl ids differ from HF"

# 2. decodes, compared as parsed JSON strings
"$VS2_BIN" tokenize --tokenizer "$REF" --decode --jsonl < "$REF/decode_ids.jsonl" > "$W/dec.jsonl"
"$VS2_BIN" tokenize --tokenizer "$REF" --decode --jsonl --skip-special < "$REF/decode_ids.jsonl" > "$W/dec_skip.jsonl"
node -e '
const fs = require("fs");
const rd = (f) => fs.readFileSync(f, "utf8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l));
let bad = 0, n = 0;
for (const [a, b] of [[process.argv[1], process.argv[3]], [process.argv[2], process.argv[4]]]) {
  const x = rd(a), y = rd(b);
  if (x.length !== y.length) bad++;
  for (let i = 0; i < y.length; i++, n++) if (x[i] !== y[i]) bad++;
}
console.log(`cli --decode: ${n} decodes, ${bad} mismatches`);
process.exit(bad ? 1 : 0);
' "$W/dec.jsonl" "$W/dec_skip.jsonl" "$REF/decode_expected.jsonl" "$REF/decode_expected_skip.jsonl" || err "--decode differs from HF"

# 3. --chat-video N: the whole chat, HF ids of the same rendered string
for tmpl in eval inf; do
    for prompt in "a cat playing piano" "一只熊猫 eats bamboo; \$5 & <think>"; do
        got=$(printf '%s\n' "$prompt" | "$VS2_BIN" tokenize --tokenizer "$REF" --chat-video 5 --template "$tmpl")
        want=$(cd "$TOKREF" && node -e '
const { Tokenizer } = require("@anush008/tokenizers");
const c = require("./corpus.js");
const t = Tokenizer.fromFile(process.argv[1] + "/tokenizer.json");
const tm = process.argv[2] === "inf" ? c.T_INF : c.T_EVAL;
t.encode(c.chat(c.render(tm, process.argv[3]), 5), null, { addSpecialTokens: false })
  .then((e) => console.log(JSON.stringify(Array.from(e.getIds()))));
' "$REF" "$tmpl" "$prompt")
        [[ "$got" == "$want" ]] || err "--chat-video 5 --template $tmpl '$prompt': $got != $want"
    done
done
echo "cli --chat-video: 4 chats checked"

# 4. plain text mode (the docs/qwen2.5-vl.md §7 example) and raw --decode
got=$(printf 'Hello, world! 你好 <|im_start|>user\n' | "$VS2_BIN" tokenize --tokenizer "$REF/tokenizer.json")
[[ "$got" == "[9707,11,1879,0,220,108386,220,151644,872,198]" ]] || err "plain mode: $got"
got=$(echo '[9707,11,1879,0]' | "$VS2_BIN" tokenize --tokenizer "$REF" --decode)
[[ "$got" == "Hello, world!" ]] || err "--decode: $got"
# the text as an argument gives what stdin gives (stdin is not read then)
got=$("$VS2_BIN" tokenize --tokenizer "$REF" $'Hello, world! 你好 <|im_start|>user\n' < /dev/null)
[[ "$got" == "[9707,11,1879,0,220,108386,220,151644,872,198]" ]] || err "TEXT argument: $got"
got=$("$VS2_BIN" tokenize --tokenizer "$REF" --decode '[9707,11,1879,0]' < /dev/null)
[[ "$got" == "Hello, world!" ]] || err "--decode with an argument: $got"

# 5. usage and errors
set +e
"$VS2_BIN" tokenize < /dev/null 2> "$W/e1"; rc=$?
[[ $rc == 2 ]] || err "missing --tokenizer: exit $rc, want 2"
"$VS2_BIN" tokenize --tokenizer "$W/nope" < /dev/null 2> "$W/e2"; rc=$?
[[ $rc == 1 ]] && grep -q "$W/nope" "$W/e2" || err "bad tokenizer path: exit $rc, $(cat "$W/e2")"
echo '[5, 999999]' | "$VS2_BIN" tokenize --tokenizer "$REF" --decode 2> "$W/e3"; rc=$?
[[ $rc == 1 ]] && grep -q 999999 "$W/e3" || err "out-of-range id: exit $rc, $(cat "$W/e3")"
printf '"ok"\nnot json\n' | "$VS2_BIN" tokenize --tokenizer "$REF" --jsonl > /dev/null 2> "$W/e4"; rc=$?
[[ $rc == 1 ]] && grep -q "line 2" "$W/e4" || err "bad jsonl line: exit $rc, $(cat "$W/e4")"
set -e
exit $fail
