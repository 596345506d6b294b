// SentencePiece BPE with llama.cpp's "SPM" semantics: the tokenizer of Llama 1/2, Mistral,
// TinyLlama and the llama2.c models. Spaces are spelled U+2581, a dummy-prefix space starts
// every run of text, pieces merge by highest score, and characters the vocabulary lacks fall
// back to `<0xXX>` byte pieces, else to the unknown token: any text has a tokenization.

import { TextAssembler, byteTokenPiece, parseByteToken, utf8Bytes } from './bytes.js';
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
  /**
   * The unknown token, whatever its type (GGUF's unknown_token_id; some files type it control).
   * Default: the first piece typed unknown, else id 0, the unk llama.cpp assumes for SPM vocabs.
   */
  unkId?: number | null;
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
  /**
   * llama.cpp's text_to_token, which both merges and the final lookup use: a piece of any type
   * (byte and unused ones too), the last id winning where a text repeats, except control and
   * unknown pieces. Those llama.cpp would also produce if merges could spell them (no real vocab
   * we know can), but plain text must never forge a special token (parseSpecial: false).
   */
  private readonly textToToken = new Map<string, number>();
  private readonly anyPiece = new Map<string, number>();
  /** llama.cpp's byte_to_token: the piece whose text is `<0xXX>`, by text, whatever its type. */
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly unkId: number;
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
    let firstUnknown: number | null = null;
    for (let id = 0; id < n; id++) {
      const piece = vocab.pieces[id]!;
      const type = this.types[id];
      if (!this.anyPiece.has(piece)) this.anyPiece.set(piece, id);
      if (type !== TokenType.Control && type !== TokenType.Unknown) this.textToToken.set(piece, id);
      if (type === TokenType.Unknown && firstUnknown === null) firstUnknown = id;
      if (type === TokenType.Control || type === TokenType.Unknown || type === TokenType.UserDefined) {
        literals.push({ id, content: piece, always: type === TokenType.UserDefined });
      }
    }
    for (let b = 0; b < 256; b++) this.byteIds[b] = this.textToToken.get(byteTokenPiece(b)) ?? -1;
    const unkId = vocab.unkId ?? firstUnknown ?? 0;
    if (!(Number.isInteger(unkId) && unkId >= 0 && unkId < n)) {
      throw new RangeError(`SentencePiece vocab: unknown token id ${unkId} is outside the ${n} pieces`);
    }
    this.unkId = unkId;
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
      const id = this.textToToken.get(left + right);
      return id === undefined ? undefined : -this.scores[id]!;
    });
    for (const symbol of merged) {
      // Merges only form pieces, so a symbol missing here is one character (llama.cpp's resegment).
      const id = this.textToToken.get(symbol);
      if (id !== undefined) out.push(id);
      else this.pushUnknownChar(symbol, out);
    }
  }

  /**
   * A character the vocabulary lacks: its UTF-8 bytes as byte pieces, as llama.cpp does. Where a
   * byte has no piece llama.cpp throws (std::out_of_range from byte_to_token); we give the whole
   * character one unknown token instead, as SentencePiece does without byte fallback, rather than
   * refuse the text or emit a partial character.
   */
  private pushUnknownChar(char: string, out: number[]): void {
    const bytes = utf8Bytes(char);
    if (!bytes.every((b) => this.byteIds[b]! >= 0)) {
      out.push(this.unkId);
      return;
    }
    for (const b of bytes) out.push(this.byteIds[b]!);
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

  tokenBytes(id: number): Uint8Array | null {
    if (!(id >= 0 && id < this.vocabSize)) return null;
    const piece = this.pieces[id]!;
    switch (this.types[id]) {
      case TokenType.Byte: {
        const b = parseByteToken(piece);
        return b === undefined ? null : Uint8Array.of(b);
      }
      case TokenType.Control:
      case TokenType.Unknown:
        return null;
      case TokenType.UserDefined:
        return utf8Bytes(piece);
      default:
        return utf8Bytes(piece.replaceAll(SPACE, ' ')); // mid-text: the dummy-prefix space stays
    }
  }

  isSpecial(id: number): boolean {
    const t = this.types[id];
    return t === TokenType.Control || t === TokenType.Unknown;
  }

  tokenId(piece: string): number | undefined {
    return this.anyPiece.get(piece);
  }
}
