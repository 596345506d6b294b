// Byte-level BPE never merges across the boundaries of its pre-tokenizer, a regex that cuts
// text into words, numbers, punctuation runs and whitespace. Each model family has its own;
// a GGUF file names it in `tokenizer.ggml.pre`. The patterns are llama.cpp's (llama-vocab.cpp),
// rewritten for JavaScript: inline `(?i:...)` contractions expanded by hand, and `\s` spelled
// out as Unicode White_Space, which is what llama.cpp and the Rust tokenizers match (JS `\s`
// also takes U+FEFF and misses U+0085).

export type PreTokenizerFlavour = 'gpt2' | 'llama3' | 'qwen2';

export interface PreTokenizer {
  readonly flavour: PreTokenizerFlavour;
  /** Unicode normalisation applied before splitting (Qwen2's tokenizer applies NFC). */
  readonly normalize: 'NFC' | null;
  /**
   * Emit a whole pre-token directly when it is itself in the vocab, without merging
   * (llama.cpp's ignore_merges, the tokenizers crate's `ignore_merges: true` for Llama 3).
   */
  readonly ignoreMerges: boolean;
  split(text: string): string[];
}

const WS = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
const S = `[${WS}]`;
const NOT_S = `[^${WS}]`;
const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const PATTERNS: Record<PreTokenizerFlavour, string> = {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  gpt2: `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|${S}+(?!${NOT_S})|${S}+`,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  llama3:
    `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*` +
    `|${S}*[\\r\\n]+|${S}+(?!${NOT_S})|${S}+`,
  // As llama3 but digits one at a time.
  qwen2:
    `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*` +
    `|${S}*[\\r\\n]+|${S}+(?!${NOT_S})|${S}+`,
};

/** GGUF `tokenizer.ggml.pre` names (llama.cpp's) for the patterns above. */
const FLAVOUR_OF_PRE: Record<string, PreTokenizerFlavour> = {
  default: 'gpt2',
  gpt2: 'gpt2',
  'gpt-2': 'gpt2',
  'llama-bpe': 'llama3',
  llama3: 'llama3',
  'llama-v3': 'llama3',
  'smaug-bpe': 'llama3',
  dbrx: 'llama3',
  qwen2: 'qwen2',
  stablelm2: 'qwen2',
};

/** The flavour for a GGUF `tokenizer.ggml.pre` value, or undefined when it is not supported. */
export function flavourOfPre(pre: string | undefined): PreTokenizerFlavour | undefined {
  return FLAVOUR_OF_PRE[pre ?? 'default'];
}

export function supportedPreNames(): string[] {
  return Object.keys(FLAVOUR_OF_PRE);
}

export function preTokenizer(flavour: PreTokenizerFlavour): PreTokenizer {
  const re = new RegExp(PATTERNS[flavour], 'gu');
  return {
    flavour,
    normalize: flavour === 'qwen2' ? 'NFC' : null,
    ignoreMerges: flavour === 'llama3',
    split(text: string): string[] {
      return text.match(re) ?? [];
    },
  };
}
