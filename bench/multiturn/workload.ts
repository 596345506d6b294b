// Conversation scripts: what each simulated user says at each turn and how long the reply
// should be. Shapes (turn counts, per-turn lengths) and text come from real data: HH-RLHF
// dialogues replayed turn by turn, MT-Bench's two-turn questions, a ShareGPT-like synthetic
// generator whose turn counts and lengths follow configurable distributions and whose text is
// cut from real ShareGPT prompts, or an agent loop (agent.ts): a long system prompt with tool
// definitions, then many short turns of forced tool calls and tool results. Conversation i depends only on (seed, i), so every system of
// a comparison, and every rate of a sweep, sees the very same conversations.

import { hhRlhfDialogues, mtBenchDialogues, shareGptPrompts, type Dialogue } from './datasets.js';
import { Rng, parseDistribution, type IntDistribution } from './rng.js';
import { CHARS_PER_TOKEN, cut, realText } from './text.js';
import { agentConversation, AGENT_DEFAULTS, type AgentSetup } from './agent.js';

export { CHARS_PER_TOKEN } from './text.js';

export interface TurnScript {
  /** The user's message of this turn (agent workload: or the result of the last tool call). */
  user: string;
  /** Reply length to ask for (max tokens; exact when EOS is ignored). */
  outputTokens: number;
  /** Agent workload: a user message or a tool's result; absent: a user message. */
  kind?: 'user' | 'tool_result';
  /** Agent workload: the turn answers in text instead of calling a tool. */
  final?: boolean;
}

export interface ConversationScript {
  /** Stable across systems and rates: `<workload>-<index>`. */
  id: string;
  /** Where its shape came from (dialogue id). */
  source: string;
  turns: TurnScript[];
  /** Agent workload: the system prompt and tools every turn carries. */
  agent?: AgentSetup;
}

export const WORKLOADS = ['hh-rlhf', 'mt-bench', 'synthetic', 'agent'] as const;
export type WorkloadKind = (typeof WORKLOADS)[number];

export interface WorkloadOptions {
  kind: WorkloadKind;
  seed: number;
  /** Every reply exactly this long (ignore EOS); otherwise lengths come from the data. */
  outputLen?: number;
  /** Cap on data-derived reply lengths (default 256). */
  maxOutputTokens?: number;
  /** Cap on one user message, in tokens (default 1024); longer text is cut. */
  maxInputTokens?: number;
  /** Synthetic: turns per conversation, user tokens per turn, reply tokens per turn. */
  syntheticTurns?: string;
  syntheticInput?: string;
  syntheticOutput?: string;
  dataDir?: string;
}

export const SYNTHETIC_DEFAULTS = {
  // ShareGPT conversations: a long-tailed number of turns (mean ≈ 5 in the paper's sample) and
  // user/assistant lengths with medians ≈ 100 / 200 tokens.
  turns: 'lognormal:4:0.6:2:16',
  input: 'lognormal:80:0.8:8:512',
  output: 'lognormal:120:0.6:16:384',
};

export interface Workload {
  readonly kind: WorkloadKind;
  readonly description: string;
  /** The i-th conversation (deterministic). */
  conversation(i: number): ConversationScript;
}

export function makeWorkload(opts: WorkloadOptions): Workload {
  const maxOut = opts.maxOutputTokens ?? 256;
  const maxInChars = (opts.maxInputTokens ?? 1024) * CHARS_PER_TOKEN;
  const replyLen = (rng: Rng, assistantText: string | undefined, fallback: () => number): number => {
    if (opts.outputLen !== undefined) return opts.outputLen;
    const fromData = assistantText === undefined ? fallback() : Math.round(assistantText.length / CHARS_PER_TOKEN);
    return Math.max(1, Math.min(maxOut, fromData));
  };
  const fixed = opts.outputLen === undefined ? '' : `, replies fixed at ${opts.outputLen} tokens`;

  if (opts.kind === 'agent') {
    const prompts = shareGptPrompts(opts.dataDir);
    return {
      kind: 'agent',
      description: `agent: ${AGENT_DEFAULTS.systemTokens.join('-')} tokens of system prompt and 5 tools, ${AGENT_DEFAULTS.toolTurns.join('-')} tool turns (forced calls, results of ${AGENT_DEFAULTS.resultTokens.join('-')} tokens), a last answer in text; text from ShareGPT prompts`,
      conversation: (i) => {
        const rng = Rng.derive(opts.seed, `conversation-${i}`);
        return agentConversation(i, rng, (chars) => realText(rng, prompts, chars));
      },
    };
  }

  if (opts.kind === 'synthetic') {
    const turns = parseDistribution(opts.syntheticTurns ?? SYNTHETIC_DEFAULTS.turns);
    const input = parseDistribution(opts.syntheticInput ?? SYNTHETIC_DEFAULTS.input);
    const output = parseDistribution(opts.syntheticOutput ?? SYNTHETIC_DEFAULTS.output);
    const prompts = shareGptPrompts(opts.dataDir);
    return {
      kind: 'synthetic',
      description: `synthetic ShareGPT-like: turns ${turns.text}, user tokens ${input.text}, reply tokens ${output.text}${fixed}; text from ShareGPT prompts`,
      conversation: (i) => syntheticConversation(i, Rng.derive(opts.seed, `conversation-${i}`), { turns, input, output, prompts, maxInChars, replyLen: (rng) => replyLen(rng, undefined, () => output.sample(rng)) }),
    };
  }

  const all = opts.kind === 'hh-rlhf' ? hhRlhfDialogues(opts.dataDir) : mtBenchDialogues(opts.dataDir);
  // MT-Bench has reference answers for 30 of 80 questions; the others reply with lengths drawn
  // from those answers.
  const answerLengths = all.flatMap((d) => d.messages.filter((m) => m.role === 'assistant').map((m) => Math.round(m.text.length / CHARS_PER_TOKEN)));
  const order = Rng.derive(opts.seed, 'dialogue-order').shuffle(all.map((_, i) => i));
  return {
    kind: opts.kind,
    description: `${opts.kind === 'hh-rlhf' ? 'HH-RLHF harmless-base test dialogues' : 'MT-Bench two-turn questions'} replayed turn by turn (${all.length} dialogues)${fixed}`,
    conversation: (i) => {
      const rng = Rng.derive(opts.seed, `conversation-${i}`);
      const dialogue = all[order[i % order.length]!]!;
      return { id: `${opts.kind}-${i}`, source: dialogue.id, turns: dialogueTurns(dialogue, maxInChars, (reply) => replyLen(rng, reply, () => rng.pick(answerLengths))) };
    },
  };
}

/** Each user message is a turn; the assistant message after it (if any) sets the reply length. */
function dialogueTurns(d: Dialogue, maxInChars: number, replyLen: (assistantText: string | undefined) => number): TurnScript[] {
  const turns: TurnScript[] = [];
  d.messages.forEach((m, k) => {
    if (m.role !== 'user') return;
    const next = d.messages[k + 1];
    turns.push({ user: cut(m.text, maxInChars), outputTokens: replyLen(next?.role === 'assistant' ? next.text : undefined) });
  });
  return turns;
}

interface SyntheticShape {
  turns: IntDistribution;
  input: IntDistribution;
  output: IntDistribution;
  prompts: readonly string[];
  maxInChars: number;
  replyLen: (rng: Rng) => number;
}

function syntheticConversation(i: number, rng: Rng, s: SyntheticShape): ConversationScript {
  const n = s.turns.sample(rng);
  const turns: TurnScript[] = [];
  for (let t = 0; t < n; t++) {
    const chars = Math.min(s.maxInChars, s.input.sample(rng) * CHARS_PER_TOKEN);
    turns.push({ user: realText(rng, s.prompts, chars), outputTokens: s.replyLen(rng) });
  }
  return { id: `synthetic-${i}`, source: 'sharegpt-synthetic', turns };
}
