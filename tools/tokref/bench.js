#!/usr/bin/env node
// bench.js — the tokenizer benchmark's text and its Hugging Face side.
//   node bench.js gen FILE [MB]           write ~MB (default 10) of mixed text, deterministic
//   node bench.js hf TOKENIZER.json FILE  encode FILE line by line (encodeBatch in chunks of 1000
//                                         lines; run with RAYON_NUM_THREADS=1 for one core) and
//                                         print "hf MB/s ids seconds"
'use strict';
const fs = require('fs');
const [cmd, a, b] = process.argv.slice(2);
if (cmd === 'gen') {
  const corpus = require('./corpus.js');
  fs.writeFileSync(a, corpus.benchText(Math.round((Number(b) || 10) * 1e6)));
} else if (cmd === 'hf') {
  const { Tokenizer } = require('@anush008/tokenizers');
  const tok = Tokenizer.fromFile(a);
  const buf = fs.readFileSync(b);
  const lines = buf.toString('utf8').split('\n').filter((l) => l.length).map((l) => l + '\n');
  (async () => {
    await tok.encodeBatch(lines.slice(0, 1000), { addSpecialTokens: false }); // warm-up
    const t0 = process.hrtime.bigint();
    let ids = 0;
    const encs = [];
    for (let i = 0; i < lines.length; i += 1000)
      encs.push(await tok.encodeBatch(lines.slice(i, i + 1000), { addSpecialTokens: false }));
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const chunk of encs) for (const e of chunk) ids += e.getLength();
    console.log(`hf ${(buf.length / 1e6 / s).toFixed(2)} ${ids} ${s.toFixed(3)}`);
  })();
} else {
  console.error('usage: bench.js gen FILE [MB] | bench.js hf TOKENIZER.json FILE');
  process.exit(2);
}
