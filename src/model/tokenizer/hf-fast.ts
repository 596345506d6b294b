// A Hugging Face `tokenizer.json` ("fast" tokenizer) behind our Tokenizer interface, run by
// @huggingface/tokenizers. The library's encode always parses added tokens and its post-processor
// decides BOS on its own, so BOS and special-token parsing are handled here to honour EncodeOptions.

import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './types.js';

export interface HfJsonSpecials {
  bosId: number | null;
  eosIds: readonly number[];
  /** undefined: decide from what the tokenizer.json post-processor does. */
  addBos: boolean | undefined;
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

export class HfJsonTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
  readonly addBos: boolean;
  private readonly lib: HfLibTokenizer;
  private withoutSpecials: HfLibTokenizer | null = null;
  private readonly specialIds = new Set<number>();
  readonly maxNormalizationShrink: number;

  /**
   * @param json the parsed tokenizer.json
   * @param config the parsed tokenizer_config.json ({} when absent)
   */
  constructor(
    private readonly json: Record<string, unknown>,
    private readonly config: Record<string, unknown>,
    specials: HfJsonSpecials,
  ) {
    this.lib = new HfLibTokenizer(json, config);
    let maxId = -1;
    for (const id of this.lib.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    for (const [id, t] of this.lib.get_added_tokens_decoder()) if (t.special) this.specialIds.add(id);
    this.maxNormalizationShrink = normalizationShrink(json);
    this.bosId = specials.bosId;
    this.eosIds = specials.eosIds;
    const bos = specials.bosId;
    this.addBos = bos !== null && (specials.addBos ?? this.lib.encode('', { add_special_tokens: true }).ids[0] === bos);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const lib = (opts.parseSpecial ?? true) ? this.lib : this.libWithoutSpecials();
    const ids = text.length === 0 ? [] : lib.encode(text, { add_special_tokens: false }).ids;
    if ((opts.addBos ?? this.addBos) && this.bosId !== null) ids.unshift(this.bosId);
    return ids;
  }

  /**
   * The same tokenizer with special added tokens removed from its literal matcher, so their
   * text goes through the model like any other (built on first use: it costs a second parse).
   */
  private libWithoutSpecials(): HfLibTokenizer {
    if (this.withoutSpecials === null) {
      const added = Array.isArray(this.json.added_tokens) ? (this.json.added_tokens as AddedTokenJson[]) : [];
      const json = { ...this.json, added_tokens: added.filter((t) => t.special !== true) };
      this.withoutSpecials = new HfLibTokenizer(json, this.config);
    }
    return this.withoutSpecials;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    // Ids past the vocab (padded embedding rows) have no text; the library would print <unk>.
    const known = ids.filter((id) => id >= 0 && id < this.vocabSize);
    if (known.length === 0) return '';
    // No clean_up_tokenization_spaces: it rewrites " ." to "." and the like, which changes
    // what the model said and makes streamed text disagree with a one-shot decode.
    return this.lib.decode(known, {
      skip_special_tokens: opts.skipSpecial ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  tokenId(piece: string): number | undefined {
    return this.lib.token_to_id(piece);
  }
}

/**
 * The most the tokenizer.json's normalizer can shrink a text's UTF-8 length, for the token-count
 * bound (token-bound.ts): NFC composes at most 3:1 (Hangul jamo), NFKC/NFKD at most 4:1 (a 4-byte
 * mathematical letter becomes one ASCII letter), Lowercase 3:1 (the Kelvin sign). Anything that
 * may delete text (Strip, Replace, a precompiled charsmap, BERT's cleaning) and models whose
 * unknown token may cover a whole run of text (WordPiece, Unigram, BPE with fused <unk> and no
 * byte fallback) give Infinity: no bound.
 */
function normalizationShrink(json: Record<string, unknown>): number {
  const model = (json.model ?? {}) as Record<string, unknown>;
  if (model.type !== 'BPE' || (model.fuse_unk === true && model.byte_fallback !== true)) return Infinity;
  const shrinkOf = (n: unknown): number => {
    if (n === null || n === undefined) return 1;
    const node = n as { type?: string; normalizers?: unknown[]; pattern?: unknown; content?: unknown };
    switch (node.type) {
      case 'Sequence':
        return (node.normalizers ?? []).reduce<number>((acc, x) => acc * shrinkOf(x), 1);
      case 'NFD':
        return 1;
      case 'NFC':
        return 3;
      case 'NFKC':
      case 'NFKD':
        return 4;
      case 'Lowercase':
        return 3;
      case 'Prepend':
        return 1;
      case 'Replace': {
        // Replace(" ", "▁") and the like never shorten; other replacements might.
        const pattern = (node.pattern as { String?: string } | undefined)?.String;
        const content = typeof node.content === 'string' ? node.content : undefined;
        if (pattern === undefined || content === undefined || pattern.length === 0) return Infinity;
        const ratio = Buffer.byteLength(pattern) / Math.max(1, Buffer.byteLength(content));
        return content.length === 0 ? Infinity : Math.max(1, ratio);
      }
      default:
        return Infinity;
    }
  };
  return shrinkOf(json.normalizer);
}
