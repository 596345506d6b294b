// Byte-level BPE in the GPT-2 tradition (GPT-2, Llama 3, Qwen 2/2.5/3): text is cut by a
// pre-tokenizer regex, each piece's UTF-8 bytes are spelled in GPT-2's byte alphabet, and
// pairs merge by their rank in the merges list. Added and special tokens are found in the
// raw text first, so they never go through BPE.

import { BYTE_TO_CHAR, CHAR_TO_BYTE, TextAssembler, utf8Bytes } from './bytes.js';
import { mergeSymbols } from './merge.js';
import { preTokenizer, type PreTokenizer, type PreTokenizerFlavour } from './pretokenize.js';
import { LiteralSplitter } from './special.js';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './types.js';

export interface AddedToken {
  id: number;
  /** The literal text, not spelled in the byte alphabet. */
  content: string;
  /** Control token (BOS, <|im_end|>...): skipped by decode({ skipSpecial }) and only parsed when asked. */
  special: boolean;
}

export interface ByteLevelBpeVocab {
  /** Model tokens spelled in GPT-2's byte alphabet ("Ġthe"), with their ids. */
  vocab: Iterable<readonly [string, number]>;
  /** Merge rules "left right" in priority order (line order of merges.txt / tokenizer.ggml.merges). */
  merges: Iterable<string>;
  added: readonly AddedToken[];
  flavour: PreTokenizerFlavour;
  /**
   * Unicode normalisation before splitting; defaults to the flavour's (NFC for Qwen2, as
   * transformers' Qwen2Tokenizer does). llama.cpp normalises nothing, so GGUF vocabs say null.
   */
  normalize?: 'NFC' | null;
  bosId: number | null;
  eosIds: readonly number[];
  addBos: boolean;
  /** Defaults to one past the largest id seen. */
  vocabSize?: number;
}

/** What an id decodes as: nothing, byte-alphabet text, literal text, or a special token. */
const Kind = { None: 0, Bytes: 1, Literal: 2, Special: 3 } as const;

const CACHE_LIMIT = 50_000;

export class ByteLevelBpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
  readonly addBos: boolean;
  private readonly pre: PreTokenizer;
  private readonly normalize: 'NFC' | null;
  private readonly model = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly byId: string[] = [];
  private readonly kinds: Uint8Array;
  private readonly addedIds = new Map<string, number>();
  private readonly literals: LiteralSplitter;
  private readonly cache = new Map<string, readonly number[]>();
  readonly maxNormalizationShrink: number;

  constructor(v: ByteLevelBpeVocab) {
    this.pre = preTokenizer(v.flavour);
    this.normalize = v.normalize === undefined ? this.pre.normalize : v.normalize;
    // NFC composes at most a 9-byte Hangul jamo triple into one 3-byte syllable.
    this.maxNormalizationShrink = this.normalize === null ? 1 : 3;
    this.bosId = v.bosId;
    this.eosIds = v.eosIds;
    this.addBos = v.addBos;
    let maxId = -1;
    for (const [piece, id] of v.vocab) {
      if (!this.model.has(piece)) this.model.set(piece, id);
      maxId = Math.max(maxId, id);
    }
    for (const t of v.added) maxId = Math.max(maxId, t.id);
    this.vocabSize = v.vocabSize ?? maxId + 1;
    if (maxId >= this.vocabSize) throw new RangeError(`BPE vocab: id ${maxId} does not fit vocab size ${this.vocabSize}`);
    this.kinds = new Uint8Array(this.vocabSize);
    for (const [piece, id] of this.model) {
      this.byId[id] = piece;
      this.kinds[id] = Kind.Bytes;
    }
    for (const t of v.added) {
      this.byId[t.id] = t.content;
      this.kinds[t.id] = t.special ? Kind.Special : Kind.Literal;
      if (!this.addedIds.has(t.content)) this.addedIds.set(t.content, t.id);
    }
    let rank = 0;
    for (const merge of v.merges) {
      if (!this.ranks.has(merge)) this.ranks.set(merge, rank);
      rank++;
    }
    this.literals = new LiteralSplitter(v.added.map((t) => ({ id: t.id, content: t.content, always: !t.special })));
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if ((opts.addBos ?? this.addBos) && this.bosId !== null) out.push(this.bosId);
    for (const fragment of this.literals.split(text, opts.parseSpecial ?? true)) {
      if (typeof fragment === 'number') {
        out.push(fragment);
        continue;
      }
      const normalized = this.normalize === null ? fragment : fragment.normalize(this.normalize);
      for (const word of this.pre.split(normalized)) out.push(...this.encodeWord(word));
    }
    return out;
  }

  private encodeWord(word: string): readonly number[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    const chars = Array.from(utf8Bytes(word), (b) => BYTE_TO_CHAR[b]!);
    const whole = this.pre.ignoreMerges ? this.model.get(chars.join('')) : undefined;
    const ids: number[] = [];
    if (whole !== undefined) {
      ids.push(whole);
    } else {
      for (const symbol of mergeSymbols(chars, (l, r) => this.ranks.get(l + ' ' + r))) {
        const id = this.model.get(symbol);
        if (id !== undefined) {
          ids.push(id);
          continue;
        }
        // A merge whose result is missing from the vocab: fall back to the single bytes.
        for (const ch of symbol) {
          const byteId = this.model.get(ch);
          if (byteId === undefined) throw new Error(`byte-level BPE vocab lacks the byte token ${JSON.stringify(ch)}`);
          ids.push(byteId);
        }
      }
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skipSpecial = opts.skipSpecial ?? false;
    const asm = new TextAssembler();
    for (const id of ids) {
      switch (this.kinds[id]) {
        case Kind.Bytes:
          for (const ch of this.byId[id]!) {
            const b = CHAR_TO_BYTE.get(ch);
            if (b === undefined) asm.pushText(ch);
            else asm.pushByte(b);
          }
          break;
        case Kind.Special:
          if (!skipSpecial) asm.pushText(this.byId[id]!);
          break;
        case Kind.Literal:
          asm.pushText(this.byId[id]!);
          break;
        default: // ids past the tokenizer (padded embedding rows) have no text
      }
    }
    return asm.toString();
  }

  tokenBytes(id: number): Uint8Array | null {
    switch (this.kinds[id]) {
      case Kind.Bytes:
        // As decode() does: a character outside the byte alphabet stands for itself.
        return Uint8Array.from([...this.byId[id]!].flatMap((ch) => {
          const b = CHAR_TO_BYTE.get(ch);
          return b === undefined ? [...utf8Bytes(ch)] : [b];
        }));
      case Kind.Literal:
        return utf8Bytes(this.byId[id]!);
      default:
        return null;
    }
  }

  isSpecial(id: number): boolean {
    return this.kinds[id] === Kind.Special;
  }

  tokenId(piece: string): number | undefined {
    return this.addedIds.get(piece) ?? this.model.get(piece);
  }
}
