// llama2.c's tokenizer.bin: the SentencePiece vocab of a llama2.c checkpoint, exported as
// flat records. The file does not store its own length or token kinds, so the vocab size
// comes from the model header and the kinds are recovered the way llama.cpp's
// convert-llama2c-to-ggml does: <unk>, BOS and EOS at 0..2, `<0xXX>` byte pieces, the rest normal.

import { readFileSync } from 'node:fs';
import { parseByteToken } from './bytes.js';
import { SentencePieceTokenizer } from './sentencepiece.js';
import { TokenType, TokenizerError } from './types.js';

const UNK_ID = 0;
const BOS_ID = 1;
const EOS_ID = 2;

/**
 * Reads a llama2.c tokenizer.bin (int32 max_token_length, then per token: f32 score,
 * i32 byte length, UTF-8 bytes). `vocabSize` is the model header's vocab_size.
 */
export function loadLlama2cTokenizer(path: string, vocabSize: number): SentencePieceTokenizer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new TokenizerError(path, `cannot read llama2.c tokenizer: ${(err as Error).message}`, { cause: err });
  }
  return parseLlama2cTokenizer(data, vocabSize, path);
}

export function parseLlama2cTokenizer(data: Uint8Array, vocabSize: number, file = 'tokenizer.bin'): SentencePieceTokenizer {
  if (!Number.isInteger(vocabSize) || vocabSize <= EOS_ID) {
    throw new TokenizerError(file, `vocab size ${vocabSize} from the model header is not a usable llama2.c vocab size`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const pieces: string[] = [];
  const scores = new Float32Array(vocabSize);
  const types = new Uint8Array(vocabSize);
  let offset = 4; // max_token_length: only a buffer size hint for run.c
  for (let id = 0; id < vocabSize; id++) {
    if (offset + 8 > data.byteLength) {
      throw new TokenizerError(file, `ends after ${id} of ${vocabSize} tokens; is the vocab size right?`);
    }
    scores[id] = view.getFloat32(offset, true);
    const len = view.getInt32(offset + 4, true);
    offset += 8;
    if (len < 0 || offset + len > data.byteLength) {
      throw new TokenizerError(file, `token ${id} claims ${len} bytes at offset ${offset - 4}, past the end of the file`);
    }
    let text: string;
    try {
      text = utf8.decode(data.subarray(offset, offset + len));
    } catch {
      throw new TokenizerError(file, `token ${id} is not valid UTF-8`);
    }
    offset += len;
    types[id] = kindOf(id, text);
    // The exporter wrote BOS/EOS as "\n<s>\n" and U+2581 as a plain space; store them the way
    // SentencePiece and GGUF do so every SPM vocab looks alike from here on.
    pieces.push(types[id] === TokenType.Control ? text.trim() : text.replaceAll(' ', '\u2581'));
  }
  if (offset !== data.byteLength) {
    throw new TokenizerError(file, `${data.byteLength - offset} bytes left after ${vocabSize} tokens; is the vocab size right?`);
  }
  return new SentencePieceTokenizer({
    pieces,
    scores,
    types,
    bosId: BOS_ID,
    eosIds: [EOS_ID],
    addBos: true,
    addSpacePrefix: true,
  });
}

function kindOf(id: number, text: string): TokenType {
  if (id === UNK_ID) return TokenType.Unknown;
  if (id === BOS_ID || id === EOS_ID) return TokenType.Control;
  return parseByteToken(text) === undefined ? TokenType.Normal : TokenType.Byte;
}
