// llama.cpp (through node-llama-cpp) behind the small part of the OpenAI API the benchmark
// uses, set up the best fair way for multi-turn chat: one context holding several sequences
// (llama.cpp batches them together), and each request placed on the idle sequence whose cached
// tokens share the longest prefix with its prompt, so a conversation that comes back to "its"
// sequence computes only its new tokens (what llama-server's slot prompt-similarity does).
// Prompts are rendered with the same chat template code as Pensieve, so both see the same
// text. /metrics exposes the same counter names as `pensieve serve`, so the harness reads
// both alike.
//
//   node --import tsx bench/multiturn/llama-cpp-adapter.ts --model FILE.gguf [--port 0]
//        [--sequences 4] [--context-size 2048] [--threads 2] [--batch-size 512]

import { parseArgs } from 'node:util';
import Fastify, { type FastifyReply } from 'fastify';
import { FALLBACK_CHAT_TEMPLATE, renderChat, type ChatMessage } from '../../src/model/chat-template.js';
import { importNodeLlamaCpp, type LlamaModel, type LlamaSequence, type Token } from './llama-cpp.js';

interface Slot {
  seq: LlamaSequence;
  busy: boolean;
  lastUsed: number;
}

/** The sequences of the one context: requests wait for an idle one, FIFO. */
class SequencePool {
  private readonly waiting: { tokens: Token[]; resolve: (s: Slot) => void }[] = [];
  private tick = 0;

  constructor(private readonly slots: Slot[]) {}

  acquire(tokens: Token[]): Promise<Slot> {
    const idle = this.slots.filter((s) => !s.busy);
    if (idle.length > 0 && this.waiting.length === 0) return Promise.resolve(this.take(this.best(idle, tokens)));
    return new Promise((resolve) => this.waiting.push({ tokens, resolve }));
  }

  release(slot: Slot): void {
    slot.busy = false;
    slot.lastUsed = ++this.tick;
    const next = this.waiting.shift();
    if (next) next.resolve(this.take(slot));
  }

  /** The longest shared prefix wins; without any, the least recently used sequence. */
  private best(idle: Slot[], tokens: Token[]): Slot {
    let best = idle[0]!;
    let bestShared = -1;
    for (const s of idle) {
      const shared = s.seq.compareContextTokens(tokens).firstDifferentIndex;
      if (shared > bestShared || (shared === bestShared && s.lastUsed < best.lastUsed)) {
        best = s;
        bestShared = shared;
      }
    }
    return best;
  }

  private take(slot: Slot): Slot {
    slot.busy = true;
    return slot;
  }
}

interface ChatBody {
  model?: string;
  messages?: { role: string; content: string | { type: string; text: string }[] }[];
  max_tokens?: number;
  max_completion_tokens?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  temperature?: number;
  top_p?: number;
  seed?: number;
  ignore_eos?: boolean;
}

const counters = { prompt: 0, cached: 0, generated: 0, requests: 0 };

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8001' },
      sequences: { type: 'string', default: '4' },
      'context-size': { type: 'string', default: '2048' },
      threads: { type: 'string', default: '2' },
      'batch-size': { type: 'string', default: '512' },
    },
  });
  if (values.model === undefined) throw new Error('--model FILE.gguf is required');
  const nlc = await importNodeLlamaCpp();
  const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: 'error' });
  const model = await llama.loadModel({ modelPath: values.model });
  const context = await model.createContext({
    sequences: Number(values.sequences),
    contextSize: Number(values['context-size']),
    batchSize: Number(values['batch-size']),
    threads: Number(values.threads),
  });
  const slots: Slot[] = Array.from({ length: Number(values.sequences) }, () => ({ seq: context.getSequence(), busy: false, lastUsed: 0 }));
  const pool = new SequencePool(slots);
  const modelId = values.model.split('/').pop()!.replace(/\.gguf$/, '');
  const template = model.fileInfo.metadata.tokenizer?.chat_template ?? FALLBACK_CHAT_TEMPLATE;
  const contextSize = context.contextSize;

  const app = Fastify({ bodyLimit: 16 << 20 });
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/v1/models', async () => ({ object: 'list', data: [{ id: modelId, object: 'model', created: 0, owned_by: 'llama.cpp' }] }));
  app.get('/metrics', async (_req, reply) => reply.type('text/plain').send(metricsText()));
  app.post('/v1/chat/completions', async (request, reply) => {
    const body = request.body as ChatBody;
    const messages: ChatMessage[] = (body.messages ?? []).map((m) => ({
      role: m.role === 'developer' ? 'system' : m.role,
      content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
    }));
    const text = renderChat(template, messages, { addGenerationPrompt: true, bosToken: model.tokens.bosString ?? '', eosToken: model.tokens.eosString ?? '' });
    const tokens = promptTokens(model, text);
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? contextSize - tokens.length;
    if (tokens.length + maxTokens > contextSize) {
      return reply.code(400).send({ error: { message: `prompt (${tokens.length}) + max_tokens (${maxTokens}) exceed a sequence's ${contextSize} tokens`, type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } });
    }
    const slot = await pool.acquire(tokens);
    try {
      return await generate(model, slot.seq, tokens, maxTokens, body, reply, modelId);
    } finally {
      pool.release(slot);
    }
  });
  const address = await app.listen({ host: values.host, port: Number(values.port) });
  process.stderr.write(`llama.cpp adapter: serving '${modelId}' at ${address}/v1 — ${slots.length} sequences of ${contextSize} tokens (${slots.length * contextSize} tokens), ${values.threads} threads\n`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function promptTokens(model: LlamaModel, text: string): Token[] {
  const ids = model.tokenize(text, true);
  return model.tokens.shouldPrependBosToken && model.tokens.bos !== null && ids[0] !== model.tokens.bos ? [model.tokens.bos, ...ids] : ids;
}

/** Reuses the sequence's shared prefix, evaluates the rest, samples until EOS or max tokens. */
async function generate(model: LlamaModel, seq: LlamaSequence, tokens: Token[], maxTokens: number, body: ChatBody, reply: FastifyReply, modelId: string) {
  // At least one prompt token is evaluated, for its logits.
  const keep = Math.min(seq.compareContextTokens(tokens).firstDifferentIndex, tokens.length - 1);
  if (keep < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
  counters.requests++;
  counters.prompt += tokens.length;
  counters.cached += keep;
  const meta = { id: `chatcmpl-${counters.requests}`, created: Math.floor(Date.now() / 1000), model: modelId };
  const usage = () => ({
    prompt_tokens: tokens.length, completion_tokens: output.length, total_tokens: tokens.length + output.length,
    prompt_tokens_details: { cached_tokens: keep },
    pensieve: { cached_tokens: keep, computed_prompt_tokens: tokens.length - keep, recomputed_tokens: 0 },
  });
  const output: Token[] = [];
  let shown = '';
  let finish: 'stop' | 'length' = 'length';
  const stream = body.stream === true;
  let gone = false;
  reply.raw.on('close', () => (gone = !reply.raw.writableFinished));
  if (stream) {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  }
  const send = (payload: unknown) => reply.raw.write(`data: ${JSON.stringify(payload)}\n\n`);
  const chunk = (delta: Record<string, string>, finishReason: string | null) => ({ ...meta, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finishReason }] });
  if (stream) send(chunk({ role: 'assistant', content: '' }, null));
  const options = { temperature: body.temperature ?? 1, topP: body.top_p ?? 1, ...(body.seed === undefined ? {} : { seed: body.seed }) };
  for await (const token of seq.evaluate(tokens.slice(keep), options)) {
    if (gone) break;
    if (!body.ignore_eos && model.isEogToken(token)) {
      finish = 'stop';
      break;
    }
    output.push(token);
    counters.generated++;
    const text = model.detokenize(output);
    // Hold back a piece that ends inside a multi-byte character.
    if (!text.endsWith('\uFFFD') && text.length > shown.length) {
      if (stream) send(chunk({ content: text.slice(shown.length) }, null));
      shown = text;
    }
    if (output.length >= maxTokens) break;
  }
  if (!stream) {
    return { ...meta, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: model.detokenize(output) }, finish_reason: finish }], usage: usage() };
  }
  if (!gone) {
    send(chunk({}, finish));
    if (body.stream_options?.include_usage) send({ ...meta, object: 'chat.completion.chunk', choices: [], usage: usage() });
    reply.raw.write('data: [DONE]\n\n');
  }
  reply.raw.end();
  return reply;
}

function metricsText(): string {
  const line = (name: string, v: number) => `# TYPE ${name} counter\n${name} ${v}\n`;
  return (
    line('pensieve_prompt_tokens_total', counters.prompt) +
    line('pensieve_prompt_tokens_cached_total', counters.cached) +
    line('pensieve_prefix_cache_queries_total', counters.prompt) +
    line('pensieve_prefix_cache_hits_total', counters.cached) +
    line('pensieve_generation_tokens_total', counters.generated) +
    line('pensieve_recomputed_tokens_total', 0)
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`llama.cpp adapter: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
