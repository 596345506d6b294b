// The agent workload: a tool-using assistant's conversation. A long fixed preamble (2–4K tokens
// of system prompt, cut from real ShareGPT text, plus the tool definitions), one user task, then
// 10–30 short tool turns: the model calls a function (tool_choice "required": with random
// weights the grammar still makes it a valid call), the client answers with a short result after
// a short think time, until a last turn that answers in text (tool_choice "none"). What it
// stresses is the stateful case at its most lopsided: every turn re-reads a long history to add
// a few dozen tokens.

import type { Rng } from './rng.js';
import { CHARS_PER_TOKEN, type ConversationScript, type TurnScript } from './workload.js';

export interface AgentTool {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface AgentSetup {
  /** The system prompt (Responses `instructions`). */
  instructions: string;
  tools: AgentTool[];
}

export const AGENT_DEFAULTS = { systemTokens: [2000, 3500], toolTurns: [10, 30], resultTokens: [8, 60], callTokens: 64, answerTokens: 64 } as const;

// Small argument schemas keep each forced call to a few dozen tokens, as real agents' calls are.
const TOOLS: ReadonlyArray<Omit<AgentTool, 'description'>> = [
  { name: 'search_docs', parameters: { type: 'object', properties: { query: { type: 'string', maxLength: 24 } }, required: ['query'], additionalProperties: false } },
  { name: 'read_file', parameters: { type: 'object', properties: { path: { type: 'string', maxLength: 24 }, line: { type: 'integer', minimum: 1, maximum: 999 } }, required: ['path', 'line'], additionalProperties: false } },
  { name: 'run_tests', parameters: { type: 'object', properties: { suite: { enum: ['unit', 'integration', 'e2e'] } }, required: ['suite'], additionalProperties: false } },
  { name: 'get_ticket', parameters: { type: 'object', properties: { id: { type: 'integer', minimum: 1, maximum: 99999 } }, required: ['id'], additionalProperties: false } },
  { name: 'send_message', parameters: { type: 'object', properties: { to: { type: 'string', maxLength: 16 }, text: { type: 'string', maxLength: 32 } }, required: ['to', 'text'], additionalProperties: false } },
];

/** The i-th agent conversation: its preamble and tools, the task, the tool results. */
export function agentConversation(i: number, rng: Rng, realText: (chars: number) => string): ConversationScript & { agent: AgentSetup } {
  const systemTokens = rng.int(AGENT_DEFAULTS.systemTokens[0], AGENT_DEFAULTS.systemTokens[1]);
  const tools = TOOLS.map((t) => ({ ...t, description: realText(rng.int(200, 600)) }));
  const toolChars = JSON.stringify(tools).length;
  const instructions = `You are an agent that works through tasks with the tools given.\n\n${realText(Math.max(400, systemTokens * CHARS_PER_TOKEN - toolChars))}`;
  const n = rng.int(AGENT_DEFAULTS.toolTurns[0], AGENT_DEFAULTS.toolTurns[1]);
  const turns: TurnScript[] = [{ user: realText(rng.int(80, 400)), outputTokens: AGENT_DEFAULTS.callTokens, kind: 'user' }];
  for (let t = 1; t < n; t++) turns.push({ user: realText(rng.int(AGENT_DEFAULTS.resultTokens[0], AGENT_DEFAULTS.resultTokens[1]) * CHARS_PER_TOKEN), outputTokens: AGENT_DEFAULTS.callTokens, kind: 'tool_result' });
  // The last result is answered in text.
  turns.push({ user: realText(rng.int(AGENT_DEFAULTS.resultTokens[0], AGENT_DEFAULTS.resultTokens[1]) * CHARS_PER_TOKEN), outputTokens: AGENT_DEFAULTS.answerTokens, kind: 'tool_result', final: true });
  return { id: `agent-${i}`, source: 'sharegpt-agent', turns, agent: { instructions, tools } };
}

/** Tokens of the preamble, as the load generator estimates context. */
export function agentPreambleTokens(setup: AgentSetup): number {
  return Math.ceil((setup.instructions.length + JSON.stringify(setup.tools).length) / CHARS_PER_TOKEN);
}
