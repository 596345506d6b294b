// How large a request body may be (--max-request-bytes), and how a body over it is refused: a
// 413 in OpenAI's error shape that the client actually reads. fastify answers an oversized body
// with "Connection: close" and closes the socket while the client is still sending; the client's
// next write then meets a reset, and many clients (curl, Python's) report that reset instead of
// the 413. Here the rest of the body is read and thrown away instead (keeping nothing), as nginx's
// lingering close does, for at most DRAIN_MS, and the connection stays usable.

import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelInfo } from '../engine/protocol.js';

/** JSON can spell a byte of text as up to 6 ("\u0001"); real clients spell non-ASCII as \uXXXX (2-3x). */
const JSON_EXPANSION = 3;
/** Room for everything around the prompt: message objects, sampling fields, logit_bias. */
const HEADROOM = 4 << 20;
/** Without a bound on bytes per token (a normalizing tokenizer), this many bytes per context token. */
const FALLBACK_BYTES_PER_TOKEN = 64;
/** A body over the limit is drained for at most this long before the socket is closed. */
const DRAIN_MS = 30_000;

/**
 * The default --max-request-bytes: what the longest prompt that fits the context can take as
 * JSON (context × most bytes per token × JSON expansion, or a token-id list at ~8 bytes an id),
 * plus a few MiB. Stateless chat resends a whole conversation, but that conversation fits the
 * context too.
 */
export function defaultMaxRequestBytes(model: ModelInfo): number {
  const perToken = Number.isFinite(model.maxInputBytesPerToken) ? model.maxInputBytesPerToken : FALLBACK_BYTES_PER_TOKEN;
  return model.contextLength * Math.max(8, perToken * JSON_EXPANSION) + HEADROOM;
}

/** After a refused body (413, or one read to its end): keep the connection, reading and dropping what is still coming rather than resetting a client that is still sending. */
export function drainRejectedBody(request: FastifyRequest, reply: FastifyReply): void {
  reply.removeHeader('connection');
  const req = request.raw;
  if (req.complete) return;
  const timer = setTimeout(() => req.socket?.destroy(), DRAIN_MS);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

/** A body over the limit: fastify's own code, so errors.ts answers it as its 413 and drains the rest. */
function bodyTooLarge(): Error {
  return Object.assign(new Error('request body too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
}

/**
 * Enforces `limit()` bytes on every request body. The limit is read per request because its
 * default depends on the model (its context and tokenizer), which the server may still be
 * loading when it starts listening; routes only run once it is there. A declared length over the
 * limit is refused before a byte is read; a chunked body is counted as it arrives.
 */
export function registerBodyLimit(app: FastifyInstance, limit: () => number): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    // Only a request that carries a body reads the limit (/health answers while the model loads).
    if (request.headers['content-length'] === undefined && request.headers['transfer-encoding'] === undefined) return payload;
    const max = limit();
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared)) {
      if (declared > max) throw bodyTooLarge();
      // Node's parser delivers exactly the declared length: nothing to count.
      return payload;
    }
    let seen = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        if (seen > max) done(bodyTooLarge());
        else done(null, chunk);
      },
    });
    payload.on('error', (err) => counted.destroy(err));
    return payload.pipe(counted);
  });
}
