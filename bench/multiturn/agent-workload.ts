// The agent workload (issue 16): what today's heaviest multi-turn traffic looks like. A few agent
// apps, each with its own long system prompt of instructions and tool definitions (2–4K tokens,
// shared by every conversation of that app), and conversations of many short turns: the task,
// then tool results coming back and short tool calls going out, with short think times (a tool
// runs in seconds, not a human's minute). Every turn resends or chains the whole context, which
// is where keeping KV across turns pays most. Tool descriptions, task and result text are cut from
// real ShareGPT prompts; the JSON around them is what function-calling prompts carry.

import { parseDistribution, Rng } from './rng.js';
import { CHARS_PER_TOKEN, cut, realText } from './text.js';
import type { ConversationScript, TurnScript } from './workload.js';

export const AGENT_SHAPE = {
  /** Distinct agent apps (system prompts); a conversation belongs to one. */
  apps: 4,
  systemTokens: parseDistribution('uniform:2000:4000'),
  turns: parseDistribution('uniform:10:30'),
  /** The opening task, then each tool result, in tokens. */
  taskTokens: parseDistribution('lognormal:80:0.6:16:400'),
  resultTokens: parseDistribution('lognormal:60:0.8:8:400'),
  /** A tool call (the model's reply to each turn). */
  callTokens: parseDistribution('uniform:16:64'),
  /** Mean think time between turns, seconds: a tool running, not a person typing. */
  thinkTimeS: 2,
  get description(): string {
    return `${this.apps} apps with system prompts of ${this.systemTokens.text} tokens (instructions and tool definitions), ` +
      `turns ${this.turns.text} (a task of ${this.taskTokens.text} tokens, then tool results of ${this.resultTokens.text}), ` +
      `tool calls of ${this.callTokens.text} tokens`;
  },
};

const VERBS = ['search', 'get', 'list', 'create', 'update', 'delete', 'run', 'fetch', 'send', 'summarize', 'translate', 'schedule'];
const NOUNS = ['documents', 'ticket', 'calendar_event', 'email', 'query', 'file', 'issue', 'order', 'customer', 'report', 'invoice', 'page'];
const TYPES = ['string', 'integer', 'boolean', 'number'] as const;

/** App `app`'s system prompt: the same text for every conversation of the app (seeded by it). */
export function agentSystemPrompt(seed: number, app: number, prompts: readonly string[]): string {
  const rng = Rng.derive(seed, `agent-app-${app}`);
  const targetChars = AGENT_SHAPE.systemTokens.sample(rng) * CHARS_PER_TOKEN;
  let text = `You are an assistant that completes tasks by calling tools. Think about which tool fits, call it with JSON arguments, ` +
    `read its result, and go on until the task is done. Guidelines for this deployment:\n${realText(rng, prompts, 600)}\n\n# Tools\n`;
  for (let t = 0; text.length < targetChars; t++) {
    const name = `${rng.pick(VERBS)}_${rng.pick(NOUNS)}_${t}`;
    const properties: Record<string, { type: string; description: string }> = {};
    const params = rng.int(1, 5);
    for (let p = 0; p < params; p++) properties[`arg_${p}`] = { type: rng.pick(TYPES), description: realText(rng, prompts, rng.int(40, 160)) };
    const tool = { type: 'function', function: { name, description: realText(rng, prompts, rng.int(120, 480)), parameters: { type: 'object', properties, required: Object.keys(properties).slice(0, 1) } } };
    text += JSON.stringify(tool) + '\n';
  }
  return cut(text, targetChars);
}

/** Conversation `i`: its app's system prompt, the task, then tool results; replies are tool calls. */
export function agentConversation(
  i: number, seed: number, prompts: readonly string[], replyLen: (rng: Rng, drawn: number) => number,
): ConversationScript {
  const rng = Rng.derive(seed, `conversation-${i}`);
  const app = rng.int(0, AGENT_SHAPE.apps - 1);
  const n = AGENT_SHAPE.turns.sample(rng);
  const turns: TurnScript[] = [{ user: realText(rng, prompts, AGENT_SHAPE.taskTokens.sample(rng) * CHARS_PER_TOKEN), outputTokens: replyLen(rng, AGENT_SHAPE.callTokens.sample(rng)) }];
  for (let t = 1; t < n; t++) {
    const content = realText(rng, prompts, AGENT_SHAPE.resultTokens.sample(rng) * CHARS_PER_TOKEN);
    turns.push({ user: `Tool result (call_${t}): ${JSON.stringify({ status: 'ok', content })}`, outputTokens: replyLen(rng, AGENT_SHAPE.callTokens.sample(rng)) });
  }
  return { id: `agent-${i}`, source: `agent-app-${app}`, system: agentSystemPrompt(seed, app, prompts), turns };
}
