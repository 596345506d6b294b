// Content addresses for full KV blocks, the key of prefix caching (vLLM's automatic
// prefix caching, nano-vllm's compute_hash). A block's KV depends on its own tokens and
// on every token before it, so its hash covers its tokens and its parent's hash: equal
// hashes mean equal KV, wherever the block sits in whichever request.
//
// The salt (a model id) keeps two models' blocks apart: the same tokens give different
// KV under different weights. SHA-256 truncated to 128 bits: a collision would silently
// serve another prompt's KV, so a fast 64-bit hash is not enough at scale.
import { createHash } from 'node:crypto';

/** 32 hex digits (128 bits). */
export type BlockHash = string;

/** The hash of one block given its parent's hash (null for the first block). */
export function hashBlockTokens(parent: BlockHash | null, tokens: ArrayLike<number>, salt: string): BlockHash {
  const h = createHash('sha256');
  // Length-prefixed salt and a parent marker keep the fields unambiguous: no salt/parent
  // pair can masquerade as another with different token bytes.
  const saltBytes = Buffer.from(salt, 'utf8');
  const head = Buffer.alloc(5);
  head.writeUInt32LE(saltBytes.length, 0);
  head.writeUInt8(parent === null ? 0 : 1, 4);
  h.update(head);
  h.update(saltBytes);
  if (parent !== null) h.update(parent, 'latin1');
  const body = Buffer.alloc(tokens.length * 4);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!Number.isInteger(t) || t < 0 || t > 0xffffffff) throw new RangeError(`token ids must be 32-bit unsigned integers, got ${t}`);
    body.writeUInt32LE(t, i * 4);
  }
  h.update(body);
  return h.digest('hex').slice(0, 32);
}

/**
 * Extends `chain` (the hashes of the first chain.length full blocks of `tokens`) up to
 * `numBlocks` blocks, never past the last full block. Returns `chain`, mutated, so a
 * growing sequence pays for each block once.
 */
export function extendHashChain(
  chain: BlockHash[],
  tokens: readonly number[],
  blockSize: number,
  salt: string,
  numBlocks = Math.floor(tokens.length / blockSize),
): BlockHash[] {
  const last = Math.min(numBlocks, Math.floor(tokens.length / blockSize));
  for (let b = chain.length; b < last; b++) {
    const parent = b === 0 ? null : chain[b - 1]!;
    chain.push(hashBlockTokens(parent, tokens.slice(b * blockSize, (b + 1) * blockSize), salt));
  }
  return chain;
}

/** The hashes of every full block of `tokens`; a trailing partial block has none. */
export function hashChain(tokens: readonly number[], blockSize: number, salt: string): BlockHash[] {
  return extendHashChain([], tokens, blockSize, salt);
}

/**
 * The hash of tokens [0, end): the chain's entry for the block ending there, or for a
 * partial last block, its tokens hashed under the previous block's hash. It names a
 * chunk's content wherever it is stored (a chunk ending at `end` holds the KV of
 * exactly these tokens), so a chunk file found after a restart is matched by it.
 * `chain` must hold at least floor(end / blockSize) hashes.
 */
export function prefixHash(tokens: readonly number[], end: number, chain: readonly BlockHash[], blockSize: number, salt: string): BlockHash {
  if (end <= 0 || end > tokens.length) throw new RangeError(`prefix of ${end} tokens out of ${tokens.length}`);
  const full = Math.floor(end / blockSize);
  if (chain.length < full) throw new RangeError(`hash chain of ${chain.length} blocks, ${full} needed`);
  if (end % blockSize === 0) return chain[full - 1]!;
  return hashBlockTokens(full === 0 ? null : chain[full - 1]!, tokens.slice(full * blockSize, end), salt);
}
