// The tokenizer of the built-in demo model: one token per UTF-8 byte (id = byte + 3) after
// <unk>, <s> and </s>, the layout of SentencePiece's byte-fallback block. It needs no files,
// so the engine can run end to end with nothing downloaded.

import { TextAssembler, byteTokenPiece, parseByteToken, utf8Bytes } from './bytes.js';
import { LiteralSplitter } from './special.js';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './types.js';

const SPECIALS = ['<unk>', '<s>', '</s>'] as const;
const BYTE_OFFSET = SPECIALS.length;

class ByteTokenizer implements Tokenizer {
  readonly vocabSize = BYTE_OFFSET + 256;
  readonly bosId = 1;
  readonly eosIds: readonly number[] = [2];
  readonly addBos = true;
  private readonly literals = new LiteralSplitter(SPECIALS.map((content, id) => ({ id, content, always: false })));

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.addBos ?? this.addBos) out.push(this.bosId);
    for (const fragment of this.literals.split(text, opts.parseSpecial ?? true)) {
      if (typeof fragment === 'number') out.push(fragment);
      else for (const b of utf8Bytes(fragment)) out.push(b + BYTE_OFFSET);
    }
    return out;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const asm = new TextAssembler();
    for (const id of ids) {
      if (id >= BYTE_OFFSET && id < this.vocabSize) asm.pushByte(id - BYTE_OFFSET);
      else if (id >= 0 && id < BYTE_OFFSET && !opts.skipSpecial) asm.pushText(SPECIALS[id]!);
    }
    return asm.toString();
  }

  tokenBytes(id: number): Uint8Array | null {
    return id >= BYTE_OFFSET && id < this.vocabSize ? Uint8Array.of(id - BYTE_OFFSET) : null;
  }

  isSpecial(id: number): boolean {
    return id >= 0 && id < BYTE_OFFSET;
  }

  tokenId(piece: string): number | undefined {
    const special = (SPECIALS as readonly string[]).indexOf(piece);
    if (special >= 0) return special;
    const b = parseByteToken(piece);
    return b === undefined || piece !== byteTokenPiece(b) ? undefined : b + BYTE_OFFSET;
  }
}

export function byteTokenizer(): Tokenizer {
  return new ByteTokenizer();
}
