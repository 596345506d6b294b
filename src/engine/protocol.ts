// Messages between the HTTP thread (EngineClient) and the engine worker thread.
// Plain structured-clone data: no classes, no functions.
import type { CacheMode, KvCacheStats } from '../cache/kv-cache-manager.js';
import type { ChatMessage, ChatTool, TemplateKwarg } from '../model/chat-template.js';
import type { KvDType } from '../model/kv-cache.js';
import type { ToolSyntaxName } from '../model/tool-syntax.js';
import type { WeightFormat } from '../model/weights.js';
import type { ConversationHistory } from './chat-prompt.js';
import type { ResponseFormat } from './grammar/format.js';
import type { EngineStats, EvictionPolicyName } from './engine.js';
import type { FinishReason, RequestUsage } from './request.js';
import type { TokenLogprob } from './logprobs.js';
import type { SamplingParams } from './sampler.js';

export interface EngineWorkerOptions {
  /** undefined: the built-in demo model. */
  model?: string;
  tokenizer?: string;
  /** A chat template file overriding the model's own. */
  chatTemplate?: string;
  weightFormat: WeightFormat;
  threads?: number;
  kvCacheMemory: number;
  /** How K/V values are stored (default auto: bf16 unless the weights are f32). */
  kvDType?: KvDType | 'auto';
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  cacheMode: CacheMode;
  /** Bytes of the host KV tier (pensieve mode); 0 or absent: disabled. */
  kvHostMemory?: number;
  /** Directory of the disk KV tier; absent: disabled. */
  kvDiskDir?: string;
  /** Bytes the disk KV tier may hold; 0 or absent: disabled. */
  kvDiskSpace?: number;
  /** redis://HOST:PORT[/DB] of the KV tier shared by replicas (pensieve mode, with the disk tier); absent: none. */
  sharedKv?: string;
  /** Milliseconds a request waits for the shared tier before computing instead (default 2000). */
  sharedKvTimeoutMs?: number;
  /** Which chunks leave a tier first (default retention). */
  eviction?: EvictionPolicyName;
  /** Fraction of free device blocks below which idle chunks are copied down ahead of time (default 0.25). */
  swapOutThreshold?: number;
  /** The longest sequence a request may reach (vLLM's --max-model-len); default: the model's context, capped to the KV pool. */
  maxModelLen?: number;
  /** Prompts of at least this many bytes are tokenized on the prompt worker (default LARGE_PROMPT_BYTES; 0: all). */
  largePromptBytes?: number;
  /** Heap growth of the prompt worker past its loaded size after which it is replaced (default PROMPT_WORKER_HEAP_GROWTH). */
  promptWorkerHeapGrowth?: number;
}

/** What the HTTP side needs to know about the model. */
export interface ModelInfo {
  id: string;
  source: string;
  format: string;
  /** The context a request may use (--max-model-len): prompt plus reply, at most the model's own. */
  contextLength: number;
  vocabSize: number;
  hasChatTemplate: boolean;
  /** How the chat template renders tool calls (and the model writes them); null: no tool calling. */
  toolSyntax: ToolSyntaxName | null;
  /** Whether the model thinks in <think>…</think> blocks (Qwen3, DeepSeek-R1). */
  reasons: boolean;
  kvCacheBlocks: number;
  kvDType: KvDType;
  blockSize: number;
  /** The most UTF-8 bytes of prompt text one token can stand for (Infinity: unknown); sizes the body limit. */
  maxInputBytesPerToken: number;
}

/** The prompt, in whichever form the API received it; the worker tokenizes it. */
export type PromptInput =
  /** templateKwargs: the client's chat_template_kwargs (e.g. Qwen3's enable_thinking). */
  /** tools: the request's tool definitions (OpenAI's chat form), for the template's `tools`. */
  | { kind: 'chat'; messages: ChatMessage[]; history?: ConversationHistory; templateKwargs?: Record<string, TemplateKwarg>; tools?: ChatTool[] }
  | { kind: 'text'; text: string }
  | { kind: 'tokens'; tokens: number[] }
  /** Internal: a prompt the prompt worker already turned into tokens (and the text they stand for). */
  | { kind: 'tokenized'; tokens: number[]; text: string };

export interface GenerateRequest {
  id: string;
  prompt: PromptInput;
  /** Cache key of the conversation whose KV this request continues (pensieve mode); null for none. */
  conversationId: string | null;
  sampling: SamplingParams;
  maxTokens: number;
  stop: string[];
  ignoreEos: boolean;
  /** Log probabilities of each generated token with this many alternatives; null or absent = off. */
  logprobs?: number | null;
  /** Constrain the output to JSON (response_format / text.format); absent: free text. */
  responseFormat?: ResponseFormat;
}

export type ToWorker =
  | { type: 'generate'; request: GenerateRequest }
  | { type: 'abort'; id: string }
  | { type: 'stats'; replyTo: number }
  /** drainMs: how long the shared KV tier may take to receive the resident chunks (see Engine.drain). */
  | { type: 'shutdown'; drainMs?: number };

export type RequestEvent =
  | { type: 'accepted'; id: string; promptTokens: number[]; promptText: string }
  | { type: 'rejected'; id: string; message: string; param: string | null; code: string | null }
  | { type: 'token'; id: string; token: number; text: string; logprobs?: TokenLogprob }
  | { type: 'finish'; id: string; reason: FinishReason; text: string; outputTokens: number[]; usage: RequestUsage; stopString: string | null }
  | { type: 'error'; id: string; message: string };

export type FromWorker =
  | { type: 'ready'; model: ModelInfo }
  | { type: 'progress'; done: number; total: number }
  | { type: 'warning'; message: string }
  | { type: 'events'; events: RequestEvent[] }
  | { type: 'stats'; replyTo: number; stats: EngineStats }
  | { type: 'fatal'; message: string };

export type { CacheMode, KvCacheStats, EngineStats };

/** Messages between the EngineClient and the prompt worker, which tokenizes large prompts. */
export type ToPromptWorker =
  /** pieces: also each token's text (for /tokenize). */
  | { type: 'encode'; id: string; prompt: PromptInput; contextLength: number; pieces?: boolean }
  | { type: 'decode'; id: string; tokens: number[] };

/** heapBytes: the worker's V8 heap and external memory after the step (prompt-thread.ts replaces a worker that grew). */
export type FromPromptWorker =
  | { type: 'ready'; heapBytes: number }
  | { type: 'encoded'; id: string; tokens: number[]; text: string; pieces?: string[]; heapBytes: number }
  | { type: 'decoded'; id: string; text: string; heapBytes: number }
  | { type: 'rejected'; id: string; message: string; param: string | null; code: string | null; heapBytes: number }
  | { type: 'fatal'; message: string };
