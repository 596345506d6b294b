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
