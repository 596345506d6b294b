// How tokenizers spell raw bytes as text, and how decoded pieces become a string again.
// Both tokenizer families emit a mix of text pieces and single bytes (SentencePiece byte
// fallback `<0xXX>`, GPT-2's byte-to-unicode alphabet); the bytes of one character may be
// spread over several tokens, so decoding collects bytes and converts them once.

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** The byte a SentencePiece/llama.cpp byte-fallback piece `<0xXX>` stands for. */
export function parseByteToken(piece: string): number | undefined {
  const m = BYTE_TOKEN.exec(piece);
  return m === null ? undefined : parseInt(m[1]!, 16);
}

export function byteTokenPiece(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

const encoder = new TextEncoder();

export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Accumulates decoded output as bytes. Invalid or incomplete UTF-8 becomes U+FFFD, which is
 * what the stream decoder looks for to hold back a character whose bytes have not all arrived.
 */
export class TextAssembler {
  private bytes = new Uint8Array(64);
  private length = 0;

  pushText(text: string): void {
    if (text.length === 0) return;
    this.pushBytes(encoder.encode(text));
  }

  pushByte(byte: number): void {
    this.reserve(1);
    this.bytes[this.length++] = byte;
  }

  pushBytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  toString(): string {
    return new TextDecoder('utf-8', { fatal: false }).decode(this.bytes.subarray(0, this.length));
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + extra));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

/**
 * GPT-2's bytes_to_unicode: every byte gets a printable character so BPE can work on strings.
 * Printable Latin-1 bytes map to themselves; the rest take code points from U+0100 upward in
 * byte order. Byte-level vocabularies (GPT-2, Llama 3, Qwen) are written in this alphabet.
 */
function buildByteAlphabet(): { byteToChar: string[]; charToByte: Map<string, number> } {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const byteToChar: string[] = [];
  const charToByte = new Map<string, number>();
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const ch = String.fromCodePoint(printable(b) ? b : next++);
    byteToChar.push(ch);
    charToByte.set(ch, b);
  }
  return { byteToChar, charToByte };
}

const alphabet = buildByteAlphabet();
export const BYTE_TO_CHAR: readonly string[] = alphabet.byteToChar;
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = alphabet.charToByte;
