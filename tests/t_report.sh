#!/usr/bin/env bash
# vs2 report: build a page from the 499-item published file and a vs2 JSONL fixture (with a
# <script> prompt and frames made from a generated video), load it in headless Chromium, check the
# table, the charts and the page's self-check, that no console errors occur and that nothing is
# fetched from the network; save a screenshot into $VS2_TEST_TMP/report/. Exit 77 without chromium.
set -euo pipefail
OUT="$VS2_TEST_TMP/report"
mkdir -p "$OUT"
CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || { echo "chromium missing (tools/install-deps.sh): skipped"; exit 77; }
DATA="$VS2_SOURCE_DIR/tests/data/videoscore2"
fail=0

# A small vs2 JSONL with untrusted text and a local video for --frames.
video="$OUT/clip.mp4"
if command -v ffmpeg >/dev/null; then
  ffmpeg -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=8 -t 2 -pix_fmt yuv420p "$video"
fi
cat > "$OUT/small.jsonl" <<JSONL
{"id":"evil","video":"$video","prompt":"<script>document.title='pwned'</script><img src=x onerror=alert(1)> & \"quotes\"","scores":{"visual_quality":4,"text_alignment":3,"physical_consistency":2},"soft_scores":{"visual_quality":3.9,"text_alignment":2.6,"physical_consistency":2.0},"rationale":"</pre></details><script>alert('x')</script>","output":"(1) visual quality: 4","human_scores":{"visual_quality":4,"text_alignment":3,"physical_consistency":3}}
{"id":"bad","error":"video: <cannot decode>"}
JSONL
printf '{"id":"e1","error":"video: cannot open"}\n' > "$OUT/errors.jsonl"
"$VS2_BIN" report --name "published (499)" "$DATA/vs2_bench__released_model_normed_soft__499items.json" \
  --name "fixture" "$OUT/small.jsonl" "$OUT/errors.jsonl" --frames 3 --html "$OUT/report.html" --title "vs2 report test"
html="$OUT/report.html"

# Labels, no-data sets, what the reader sees.
grep -q '<h2>published (499)</h2>' "$html" && grep -q '<h2>fixture</h2>' "$html" || { echo "FAIL: --name labels"; fail=1; }
grep -q 'title="vs2_bench__released_model_normed_soft__499items.json"' "$html" && { echo "FAIL: --name not used in the table"; fail=1; }
grep -A1 '<h2>errors.jsonl</h2>' "$html" | grep -q 'No scored items' || { echo "FAIL: an error-only set must say 'No scored items'"; fail=1; }
grep -q '<h2>Summary</h2>' "$html" || { echo "FAIL: no summary table"; fail=1; }
grep -q 'id="filter"' "$html" || { echo "FAIL: no filter box"; fail=1; }
grep -q '<p id="vs2-selfcheck" hidden>' "$html" || { echo "FAIL: the self-check line is visible"; fail=1; }
# A trailing --name labels nothing: refused, not ignored. A missing --html is named.
if "$VS2_BIN" report "$OUT/small.jsonl" --name late --html "$OUT/x.html" 2> "$OUT/late.err"; then echo "FAIL: trailing --name accepted"; fail=1; fi
grep -q "labels nothing" "$OUT/late.err" || { echo "FAIL: trailing --name message: $(cat "$OUT/late.err")"; fail=1; }
"$VS2_BIN" report "$OUT/small.jsonl" 2> "$OUT/nohtml.err" && { echo "FAIL: no --html accepted"; fail=1; }
grep -q "no --html OUT.html given" "$OUT/nohtml.err" || { echo "FAIL: missing --html not named"; fail=1; }

# Self-contained: no URL that a browser would fetch (the published file's video URLs are text only).
if grep -Eo '(src|href)="[^"d#][^"]*"' "$html" | grep -v '^src="data:' | head -3 | grep -q .; then
  echo "FAIL: external resource in the page"; grep -Eo '(src|href)="[^"d#][^"]*"' "$html" | head -3; fail=1
fi
grep -q "<script>document.title" "$html" && { echo "FAIL: prompt not escaped"; fail=1; }
grep -q "&lt;script&gt;document.title" "$html" || { echo "FAIL: escaped prompt missing"; fail=1; }
if [ -f "$video" ]; then
  n=$(grep -o 'src="data:image/png;base64,' "$html" | wc -l)
  [ "$n" -ge 3 ] || { echo "FAIL: expected 3 thumbnails, found $n"; fail=1; }
fi

flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run
       --user-data-dir="$OUT/profile" --window-size=1400,1800)
timeout 120 "$CHROME" "${flags[@]}" --enable-logging=stderr --v=0 --virtual-time-budget=5000 \
  --dump-dom "file://$html" > "$OUT/dom.html" 2> "$OUT/chromium.log" || true
grep -q 'data-ok="1"' "$OUT/dom.html" || { echo "FAIL: the page's self-check did not run"; fail=1; }
grep -o 'selfcheck ok: [0-9]* rows, [0-9]* histograms' "$OUT/dom.html" || true
grep -q 'selfcheck ok: 502 rows, 6 histograms' "$OUT/dom.html" || { echo "FAIL: table rows / charts"; fail=1; }
grep -q '<table class="cm">' "$OUT/dom.html" || { echo "FAIL: no confusion matrix"; fail=1; }
grep -q 'pwned' "$OUT/dom.html" && grep -q '<title>pwned' "$OUT/dom.html" && { echo "FAIL: injected script ran"; fail=1; }
if grep -E 'Uncaught|ERROR:CONSOLE|CONSOLE\(' "$OUT/chromium.log" | grep -v 'Refused to load' | grep -q .; then
  echo "FAIL: console errors:"; grep -E 'Uncaught|ERROR:CONSOLE|CONSOLE\(' "$OUT/chromium.log" | head; fail=1
fi
timeout 120 "$CHROME" "${flags[@]}" --virtual-time-budget=3000 --screenshot="$OUT/report.png" \
  "file://$html" > /dev/null 2>&1 || true
[ -s "$OUT/report.png" ] || { echo "FAIL: no screenshot"; fail=1; }
echo "report: $html, screenshot: $OUT/report.png"
exit $fail
