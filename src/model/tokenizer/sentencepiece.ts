// SentencePiece BPE with llama.cpp's "SPM" semantics: the tokenizer of Llama 1/2, Mistral,
// TinyLlama and the llama2.c models. Spaces are spelled U+2581, a dummy-prefix space starts
// every run of text, pieces merge by highest score, and characters the vocabulary lacks fall
// back to `<0xXX>` byte pieces.

import { TextAssembler, parseByteToken, utf8Bytes } from './bytes.js';
import { mergeSymbols } from './merge.js';
import { LiteralSplitter, type LiteralToken } from './special.js';
import { TokenType, type DecodeOptions, type EncodeOptions, type Tokenizer } from './types.js';

const SPACE = '\u2581';

export interface SentencePieceVocab {
  /** Piece strings with spaces written as U+2581, indexed by id. */
  pieces: readonly string[];
  scores: ArrayLike<number>;
  /** `TokenType` per id. */
  types: ArrayLike<number>;
  bosId: number | null;
  eosIds: readonly number[];
  addBos: boolean;
  /** SentencePiece's add_dummy_prefix: a space before the text so the first word looks like the rest. */
  addSpacePrefix: boolean;
}

export class SentencePieceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
  readonly addBos: boolean;
  private readonly pieces: readonly string[];
  private readonly scores: Float64Array;
  private readonly types: Uint8Array;
  private readonly addSpacePrefix: boolean;
  /** Pieces the merge loop may produce: normal and user-defined, as in SentencePiece itself. */
  private readonly mergeable = new Map<string, number>();
  private readonly anyPiece = new Map<string, number>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly unkId: number | null = null;
  private readonly literals: LiteralSplitter;

  constructor(vocab: SentencePieceVocab) {
    const n = vocab.pieces.length;
    if (vocab.scores.length !== n || vocab.types.length !== n) {
      throw new RangeError(`SentencePiece vocab: ${n} pieces but ${vocab.scores.length} scores and ${vocab.types.length} types`);
    }
    this.vocabSize = n;
    this.pieces = vocab.pieces;
    this.scores = Float64Array.from(vocab.scores);
    this.types = Uint8Array.from(vocab.types);
    this.bosId = vocab.bosId;
    this.eosIds = vocab.eosIds;
    this.addBos = vocab.addBos;
    this.addSpacePrefix = vocab.addSpacePrefix;
    const literals: LiteralToken[] = [];
    for (let id = 0; id < n; id++) {
      const piece = vocab.pieces[id]!;
      const type = this.types[id];
      if (!this.anyPiece.has(piece)) this.anyPiece.set(piece, id);
      if ((type === TokenType.Normal || type === TokenType.UserDefined) && !this.mergeable.has(piece)) {
        this.mergeable.set(piece, id);
      }
      if (type === TokenType.Byte) {
        const b = parseByteToken(piece);
        if (b !== undefined && this.byteIds[b] === -1) this.byteIds[b] = id;
      }
      if (type === TokenType.Unknown && this.unkId === null) this.unkId = id;
      if (type === TokenType.Control || type === TokenType.Unknown || type === TokenType.UserDefined) {
        literals.push({ id, content: piece, always: type === TokenType.UserDefined });
      }
    }
    this.literals = new LiteralSplitter(literals);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if ((opts.addBos ?? this.addBos) && this.bosId !== null) out.push(this.bosId);
    // As llama.cpp: each run of text that starts the input or follows a special token gets
    // its own dummy prefix, so "<s>[INST]" tokenizes "[INST]" like a word after a space.
    let afterSpecial = true;
    for (const fragment of this.literals.split(text, opts.parseSpecial ?? true)) {
      if (typeof fragment === 'number') {
        out.push(fragment);
        afterSpecial = true;
        continue;
      }
      const prefixed = this.addSpacePrefix && afterSpecial ? ' ' + fragment : fragment;
      this.encodeText(prefixed.replaceAll(' ', SPACE), out);
      afterSpecial = false;
    }
    return out;
  }

  private encodeText(text: string, out: number[]): void {
    const merged = mergeSymbols(Array.from(text), (left, right) => {
      const id = this.mergeable.get(left + right);
      return id === undefined ? undefined : -this.scores[id]!;
    });
    for (const symbol of merged) {
      const id = this.mergeable.get(symbol);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const b of utf8Bytes(symbol)) {
        const byteId = this.byteIds[b]!;
        if (byteId >= 0) out.push(byteId);
        else if (this.unkId !== null) out.push(this.unkId);
        else throw new Error(`SentencePiece vocab has neither byte piece <0x${b.toString(16)}> nor <unk>`);
      }
    }
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skipSpecial = opts.skipSpecial ?? false;
    const asm = new TextAssembler();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!(id >= 0 && id < this.vocabSize)) continue; // padded embedding rows have no text
      const piece = this.pieces[id]!;
      switch (this.types[id]) {
        case TokenType.Byte:
          asm.pushByte(parseByteToken(piece) ?? 0);
          break;
        case TokenType.Control:
        case TokenType.Unknown:
          if (!skipSpecial) asm.pushText(piece);
          break;
        case TokenType.UserDefined:
          asm.pushText(piece);
          break;
        default: {
          let text = piece.replaceAll(SPACE, ' ');
          // Undo the dummy prefix: SentencePiece drops one leading space of the first piece,
          // also when that piece follows the BOS that encode() put in front.
          const first = i === 0 || (i === 1 && ids[0] === this.bosId);
          if (first && this.addSpacePrefix && text.startsWith(' ')) text = text.slice(1);
          asm.pushText(text);
        }
      }
    }
    return asm.toString();
  }

  isSpecial(id: number): boolean {
    const t = this.types[id];
    return t === TokenType.Control || t === TokenType.Unknown;
  }

  tokenId(piece: string): number | undefined {
    return this.anyPiece.get(piece);
  }
}
