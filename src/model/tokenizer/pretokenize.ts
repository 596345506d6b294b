// Byte-level BPE never merges across the boundaries of its pre-tokenizer, a regex (or a sequence
// of them) that cuts text into words, numbers, punctuation runs and whitespace. Each model family
// has its own; a GGUF file names it in `tokenizer.ggml.pre`. The patterns are llama.cpp's
// (llama-vocab.cpp), rewritten for JavaScript: inline `(?i:...)` contractions expanded by hand,
// and `\s` spelled out as Unicode White_Space, which is what llama.cpp and the Rust tokenizers
// match (JS `\s` also takes U+FEFF and misses U+0085).
//
// A flavour with several patterns applies them in turn, as llama.cpp's unicode_regex_split does:
// each pattern cuts every piece the previous ones left into its matches and the text between
// them, and later patterns never join what an earlier one cut.

export type PreTokenizerFlavour = 'default' | 'gpt2' | 'llama3' | 'qwen2' | 'starcoder' | 'tekken' | 'gpt4o';

export interface PreTokenizer {
  readonly flavour: PreTokenizerFlavour;
  /** Unicode normalisation applied before splitting (Qwen2's tokenizer applies NFC). */
  readonly normalize: 'NFC' | null;
  /**
   * Emit a whole pre-token directly when it is itself in the vocab, without merging
   * (llama.cpp's ignore_merges, the tokenizers crate's `ignore_merges: true` for Llama 3).
   */
  readonly ignoreMerges: boolean;
  /** Whether llama.cpp adds BOS for this pre-tokenizer when the file does not say (add_bos_token). */
  readonly addBosByDefault: boolean;
  split(text: string): string[];
}

const WS = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
const S = `[${WS}]`;
const NOT_S = `[^${WS}]`;
const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
const GPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|${S}+(?!${NOT_S})|${S}+`;

// tiktoken's cased-word alternatives as llama.cpp writes them for std::regex: "upper" is a letter
// that is not a-z and "lower" a letter that is not A-Z, so a non-ASCII letter counts as both.
const UPPER = '(?:(?=\\p{L})[^a-z])';
const LOWER = '(?:(?=\\p{L})[^A-Z])';
const CASED_WORDS = (suffix: string) =>
  `[^\\r\\n\\p{L}\\p{N}]?${UPPER}*${LOWER}+${suffix}|[^\\r\\n\\p{L}\\p{N}]?${UPPER}+${LOWER}*${suffix}`;
const TIKTOKEN_TAIL = `| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n/]*|${S}*[\\r\\n]+|${S}+(?!${NOT_S})|${S}+`;

interface FlavourSpec {
  patterns: readonly string[];
  normalize: 'NFC' | null;
  ignoreMerges: boolean;
  addBos: boolean;
}

const FLAVOURS: Record<PreTokenizerFlavour, FlavourSpec> = {
  // llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT: punctuation runs, then GPT-2, then digit runs cut in threes.
  default: {
    patterns: ['[\\p{P}$+<=>^~|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'],
    normalize: null,
    ignoreMerges: false,
    addBos: false,
  },
  gpt2: { patterns: [GPT2], normalize: null, ignoreMerges: false, addBos: false },
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  llama3: {
    patterns: [
      `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*` +
        `|${S}*[\\r\\n]+|${S}+(?!${NOT_S})|${S}+`,
    ],
    normalize: null,
    ignoreMerges: true,
    addBos: true,
  },
  // As llama3 but digits one at a time.
  qwen2: {
    patterns: [
      `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*` +
        `|${S}*[\\r\\n]+|${S}+(?!${NOT_S})|${S}+`,
    ],
    normalize: 'NFC',
    ignoreMerges: false,
    addBos: false,
  },
  // StarCoder, Refact, Command-R, SmolLM: every digit alone, then GPT-2's pattern.
  starcoder: { patterns: ['\\p{N}', GPT2], normalize: null, ignoreMerges: false, addBos: false },
  // Mistral's Tekken (Nemo, Pixtral, Ministral): tiktoken's cased words, digits one at a time.
  tekken: { patterns: [CASED_WORDS('') + '|\\p{N}' + TIKTOKEN_TAIL], normalize: null, ignoreMerges: true, addBos: true },
  // GPT-4o's o200k (also Llama 4): cased words with their contraction, digits in threes.
  gpt4o: {
    patterns: [CASED_WORDS(`${CONTRACTIONS}?`) + '|\\p{N}{1,3}' + TIKTOKEN_TAIL],
    normalize: null,
    ignoreMerges: false,
    addBos: false,
  },
};

/** GGUF `tokenizer.ggml.pre` names (llama.cpp's) for the flavours above. */
const FLAVOUR_OF_PRE: Record<string, PreTokenizerFlavour> = {
  default: 'default',
  gpt2: 'gpt2',
  'gpt-2': 'gpt2',
  'phi-2': 'gpt2',
  mpt: 'gpt2',
  olmo: 'gpt2',
  'llama-bpe': 'llama3',
  llama3: 'llama3',
  'llama-v3': 'llama3',
  'smaug-bpe': 'llama3',
  dbrx: 'llama3',
  qwen2: 'qwen2',
  'deepseek-r1-qwen': 'qwen2',
  megrez: 'qwen2',
  stablelm2: 'qwen2',
  smollm: 'starcoder',
  starcoder: 'starcoder',
  refact: 'starcoder',
  'command-r': 'starcoder',
  codeshell: 'starcoder',
  exaone: 'starcoder',
  'minerva-7b': 'starcoder',
  tekken: 'tekken',
  'gpt-4o': 'gpt4o',
  llama4: 'gpt4o',
};

/**
 * The flavour for a GGUF `tokenizer.ggml.pre` value, or undefined when it is not supported.
 * A file without the key gets llama.cpp's default pre-tokenizer, as llama.cpp gives it.
 */
export function flavourOfPre(pre = 'default'): PreTokenizerFlavour | undefined {
  return Object.hasOwn(FLAVOUR_OF_PRE, pre) ? FLAVOUR_OF_PRE[pre] : undefined;
}

export function supportedPreNames(): string[] {
  return Object.keys(FLAVOUR_OF_PRE);
}

export function preTokenizer(flavour: PreTokenizerFlavour): PreTokenizer {
  const spec = FLAVOURS[flavour];
  const regexes = spec.patterns.map((p) => new RegExp(p, 'gu'));
  return {
    flavour,
    normalize: spec.normalize,
    ignoreMerges: spec.ignoreMerges,
    addBosByDefault: spec.addBos,
    split(text: string): string[] {
      let pieces = [text];
      for (const re of regexes) pieces = pieces.flatMap((piece) => cutBy(re, piece));
      return pieces;
    },
  };
}

/** The matches of `re` in `text` and the non-empty gaps between them, in order. */
function cutBy(re: RegExp, text: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (const m of text.matchAll(re)) {
    if (m[0].length === 0) continue;
    if (m.index > at) out.push(text.slice(at, m.index));
    out.push(m[0]);
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}
