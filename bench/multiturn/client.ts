// One simulated user's side of a conversation, over the official `openai` client, streamed so
// that every piece of text is timed as it arrives. Two ways to continue a conversation:
//   'responses': stateful, each turn sends only the new message and previous_response_id (the
//                server keeps the history, and in pensieve mode its KV cache);
//   'chat':      stateless, each turn resends the whole history to /v1/chat/completions.
// An agent conversation (agent.ts) carries its system prompt and tools on every turn; its turns
// after the first send a tool's result (function_call_output / a 'tool' message) for the call the
// model made, and time the call's argument pieces as they would time text.

import type OpenAI from 'openai';
import type { AgentSetup } from './agent.js';

export const APIS = ['responses', 'chat'] as const;
export type Api = (typeof APIS)[number];

export interface SamplingOptions {
  temperature: number;
  /** vLLM's ignore_eos: generate exactly max tokens (fixed output lengths). */
  ignoreEos: boolean;
}

/** What one turn cost, as the client saw it. Times are ms on the run's clock. */
export interface TurnRecord {
  conversation: string;
  turn: number;
  sentAt: number;
  /** First non-empty text; null if none arrived. */
  firstTokenAt: number | null;
  endAt: number;
  /** Arrival time of every non-empty text piece (inter-token latencies are their gaps). */
  chunkTimes: number[];
  status: 'ok' | 'error' | 'aborted';
  error?: string;
  maxTokens: number;
  promptTokens: number;
  outputTokens: number;
  /** Prompt tokens whose KV the server reused (prompt_tokens_details.cached_tokens). */
  cachedTokens: number;
  /** Pensieve's breakdown, when the server reports it. */
  computedPromptTokens: number | null;
  recomputedTokens: number | null;
  /** Of the cached tokens, how many each tier held when the request arrived. */
  cachedByTier: TierTokens | null;
}

export interface TierTokens {
  device: number;
  host: number;
  disk: number;
  /** The KV tier shared by replicas (Redis); absent from servers without one. */
  shared?: number;
}

interface UsageLike {
  prompt_tokens?: number;
  input_tokens?: number;
  completion_tokens?: number;
  output_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  input_tokens_details?: { cached_tokens?: number } | null;
  pensieve?: { cached_tokens: number; computed_prompt_tokens: number; recomputed_tokens: number; cached_tokens_by_tier?: TierTokens };
}

export interface TurnOptions {
  maxTokens: number;
  seed: number;
  signal: AbortSignal;
  /** Agent turns: the message is a tool's result (else the user's), and whether the model should answer in text. */
  toolResult?: boolean;
  final?: boolean;
}

type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam;

export class ConversationClient {
  private previousResponseId: string | null = null;
  private readonly history: ChatMessage[] = [];
  /** The call the model made last turn, which this turn's tool result answers. */
  private lastCallId: string | null = null;

  constructor(
    private readonly client: OpenAI,
    private readonly api: Api,
    private readonly model: string,
    readonly id: string,
    private readonly sampling: SamplingOptions,
    private readonly clock: () => number,
    private readonly agent: AgentSetup | null = null,
  ) {}

  /** This turn's message as the chat history takes it. */
  private chatMessage(user: string, opts: TurnOptions): ChatMessage {
    if (opts.toolResult && this.lastCallId !== null) return { role: 'tool', tool_call_id: this.lastCallId, content: user };
    return { role: 'user', content: user };
  }

  /** The agent's tools and choice for this turn, in the API's form; none outside the agent workload. */
  private toolFields(opts: TurnOptions, form: Api): Record<string, unknown> {
    if (this.agent === null) return {};
    const tools = this.agent.tools.map((t) => (form === 'chat'
      ? { type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters, strict: true } }
      : { type: 'function', name: t.name, description: t.description, parameters: t.parameters, strict: true }));
    return { tools, tool_choice: opts.final ? 'none' : 'required', parallel_tool_calls: false };
  }

  /** Sends one user message and streams the reply; never throws (failures are records). */
  async turn(index: number, user: string, opts: TurnOptions): Promise<TurnRecord> {
    const record: TurnRecord = {
      conversation: this.id, turn: index, sentAt: this.clock(), firstTokenAt: null, endAt: 0, chunkTimes: [],
      status: 'ok', maxTokens: opts.maxTokens, promptTokens: 0, outputTokens: 0, cachedTokens: 0,
      computedPromptTokens: null, recomputedTokens: null, cachedByTier: null,
    };
    const onText = (text: string) => {
      if (text === '') return;
      const now = this.clock();
      record.firstTokenAt ??= now;
      record.chunkTimes.push(now);
    };
    try {
      const { text, usage } = this.api === 'responses' ? await this.viaResponses(user, opts, onText) : await this.viaChat(user, opts, onText);
      if (usage === null) throw new Error('the reply carried no usage');
      record.promptTokens = usage.prompt_tokens ?? usage.input_tokens ?? 0;
      record.outputTokens = usage.completion_tokens ?? usage.output_tokens ?? 0;
      record.cachedTokens = usage.prompt_tokens_details?.cached_tokens ?? usage.input_tokens_details?.cached_tokens ?? 0;
      record.computedPromptTokens = usage.pensieve?.computed_prompt_tokens ?? null;
      record.recomputedTokens = usage.pensieve?.recomputed_tokens ?? null;
      record.cachedByTier = usage.pensieve?.cached_tokens_by_tier ?? null;
    } catch (err) {
      record.status = opts.signal.aborted ? 'aborted' : 'error';
      record.error = err instanceof Error ? err.message : String(err);
    }
    record.endAt = this.clock();
    return record;
  }

  private async viaResponses(user: string, opts: TurnOptions, onText: (t: string) => void): Promise<{ text: string; usage: UsageLike | null }> {
    const input = opts.toolResult && this.lastCallId !== null ? [{ type: 'function_call_output', call_id: this.lastCallId, output: user }] : user;
    const params = {
      model: this.model,
      input,
      ...(this.agent === null ? {} : { instructions: this.agent.instructions }),
      ...this.toolFields(opts, 'responses'),
      previous_response_id: this.previousResponseId,
      store: true,
      stream: true as const,
      max_output_tokens: opts.maxTokens,
      temperature: this.sampling.temperature,
      // Beyond OpenAI's fields: Pensieve takes vLLM's seed (and ignore_eos where the route has it).
      seed: opts.seed,
      ignore_eos: this.sampling.ignoreEos,
    };
    const stream = await this.client.responses.create(params as OpenAI.Responses.ResponseCreateParamsStreaming, { signal: opts.signal });
    let text = '';
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') {
        text += event.delta;
        onText(event.delta);
      } else if (event.type === 'response.function_call_arguments.delta') {
        onText(event.delta);
      } else if (event.type === 'response.completed' || event.type === 'response.incomplete') {
        this.previousResponseId = event.response.id;
        const call = event.response.output.find((o) => o.type === 'function_call');
        this.lastCallId = call?.type === 'function_call' ? call.call_id : null;
        return { text, usage: event.response.usage as UsageLike | null };
      } else if (event.type === 'response.failed') {
        throw new Error(`response failed: ${event.response.error?.message ?? 'unknown error'}`);
      } else if (event.type === 'error') {
        throw new Error(`stream error: ${event.message}`);
      }
    }
    throw new Error('the response stream ended without a final event');
  }

  private async viaChat(user: string, opts: TurnOptions, onText: (t: string) => void): Promise<{ text: string; usage: UsageLike | null }> {
    const message = this.chatMessage(user, opts);
    const params = {
      model: this.model,
      messages: [...(this.agent === null ? [] : [{ role: 'system' as const, content: this.agent.instructions }]), ...this.history, message],
      ...this.toolFields(opts, 'chat'),
      stream: true as const,
      stream_options: { include_usage: true },
      max_tokens: opts.maxTokens,
      temperature: this.sampling.temperature,
      seed: opts.seed,
      ignore_eos: this.sampling.ignoreEos,
    };
    const stream = await this.client.chat.completions.create(params as OpenAI.Chat.ChatCompletionCreateParamsStreaming, { signal: opts.signal });
    let text = '';
    let usage: UsageLike | null = null;
    const calls: Array<{ id: string; name: string; arguments: string }> = [];
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      text += delta?.content ?? '';
      onText(delta?.content ?? '');
      for (const c of delta?.tool_calls ?? []) {
        const call = (calls[c.index] ??= { id: c.id ?? '', name: c.function?.name ?? '', arguments: '' });
        call.arguments += c.function?.arguments ?? '';
        onText(c.function?.arguments ?? '');
      }
      if (chunk.usage) usage = chunk.usage as UsageLike;
    }
    this.history.push(message, {
      role: 'assistant',
      content: calls.length > 0 && text === '' ? null : text,
      ...(calls.length > 0 ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) } : {}),
    });
    this.lastCallId = calls[0]?.id ?? null;
    return { text, usage };
  }
}
