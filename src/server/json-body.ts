// How JSON request bodies are read: fastify's own JSON parser (same limits, same refusal of
// __proto__ keys), with one step before it. A route whose body carries a prompt names where
// (route config `prompt`, see prompt-scan.ts); its body is measured as it arrives, and once the
// prompt text it holds is more than the context can take (the token-count bound of
// token-bound.ts), the body is no longer kept: the rest is read and dropped, and the request gets
// its 400 context_length_exceeded without the body ever becoming a string or an object.
//
// This is what keeps a 20 MB paste from hurting anyone: parsing it would hold the HTTP thread
// (every other request waits) for hundreds of milliseconds, and leave tens of MB of strings on
// the heap, which V8 gives back only at some later full GC. Bodies that can fit are parsed as
// before; they are bounded by the context (and by --max-request-bytes, enforced upstream in the
// preParsing hook of body-limit.ts, whose errors arrive here as stream errors).

import type { Readable } from 'node:stream';
import { errorCodes, type FastifyInstance } from 'fastify';
import { contextExceededMessage } from '../engine/prompt.js';
import type { ModelInfo } from '../engine/protocol.js';
import { minTokenCount } from '../model/tokenizer/token-bound.js';
import { badRequest } from './errors.js';
import { PromptScan, type PromptFields } from './prompt-scan.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Where this route's body holds its prompt: measured while it arrives (json-body.ts). */
    prompt?: PromptFields;
  }
}

/** Replaces fastify's application/json parser; `model()` is read when a body with a prompt arrives. */
export function registerJsonBody(app: FastifyInstance, model: () => ModelInfo): void {
  // fastify's defaults for both: a body that would set an object's prototype is refused.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', (request, payload: Readable, done) => {
    const fields = request.routeOptions.config.prompt;
    const scan = fields === undefined ? null : new PromptScan(fields);
    const { contextLength, maxInputBytesPerToken } = scan === null ? { contextLength: Infinity, maxInputBytesPerToken: Infinity } : model();
    const atLeast = () => (scan === null ? 0 : minTokenCount(scan.textBytes, maxInputBytesPerToken) + scan.tokenIds);
    const declared = Number(request.headers['content-length']);
    // null once the prompt cannot fit: nothing more is kept.
    let chunks: Buffer[] | null = [];
    let received = 0;

    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      if (chunks === null) return;
      scan?.write(bytes);
      if (scan !== null && !scan.malformed && atLeast() >= contextLength) chunks = null;
      else chunks.push(bytes);
    };
    const onEnd = (err?: Error & { statusCode?: number }) => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onEnd);
      if (err !== undefined) {
        // As fastify's own reader: a stream error is the client's (400) unless it says otherwise (413).
        if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
        return done(err);
      }
      if (!Number.isNaN(declared) && received !== declared) return done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      if (chunks === null) {
        return done(badRequest(contextExceededMessage(atLeast(), contextLength, false), fields!.param, 'context_length_exceeded'));
      }
      parseJson(request, Buffer.concat(chunks, received).toString('utf8'), done);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onEnd);
    payload.resume();
  });
}
