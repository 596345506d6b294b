// Turning a conversation into the prompt text a chat model was trained on. Models ship that
// format as a Jinja template (tokenizer_config.json's `chat_template`, or chat_template.jinja);
// we render it with @huggingface/jinja and the globals transformers provides to templates.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Environment, Interpreter, Template } from '@huggingface/jinja';

export interface ChatMessage {
  role: string;
  content: string;
  /** An assistant message's calls, arguments parsed to objects as templates expect (tojson). */
  tool_calls?: ChatToolCall[];
  /** A tool message: the call it answers. */
  tool_call_id?: string;
  /** A tool message: the function that answered (some templates print it). */
  name?: string;
  /** An assistant message's reasoning (Qwen3's template keeps it for the turns of a tool loop). */
  reasoning_content?: string;
}

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: unknown };
}

/** A tool definition as templates read it (OpenAI's chat form). */
export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: unknown };
}

export interface RenderChatOptions {
  /** Append the header that opens the assistant's turn (transformers' add_generation_prompt). */
  addGenerationPrompt: boolean;
  bosToken?: string;
  eosToken?: string;
  /** More template variables (tools, date_string, ...); they override the defaults above. */
  extra?: Record<string, unknown>;
  /**
   * A client's variables for the template (chat_template_kwargs, e.g. Qwen3's enable_thinking),
   * as transformers' apply_chat_template(**kwargs). They cannot replace what renderChat itself
   * defines (messages, add_generation_prompt, raise_exception, ...): see templateKwargsProblem.
   */
  templateKwargs?: Readonly<Record<string, TemplateKwarg>>;
  /** The clock behind strftime_now (Llama 3.1+ prints today's date); defaults to now. */
  now?: Date;
}

/** A chat template that cannot be parsed or that refused the conversation. */
export class ChatTemplateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChatTemplateError';
  }
}

/**
 * For models that ship no template (base models such as stories260K). Plain text rather than
 * invented control tokens, because a base model has only ever seen prose:
 *
 *     System: <content>\n\nUser: <content>\n\nAssistant: <content>\n\nUser: <content>\n\nAssistant:
 *
 * Each message is "<Role>: <content>" followed by a blank line; the generation prompt is
 * "Assistant:" with no trailing space, since SentencePiece vocabularies put the space at the
 * start of the next word's token.
 */
export const FALLBACK_CHAT_TEMPLATE =
  "{% for message in messages %}{{ (message['role'] | capitalize) + ': ' + message['content'] + '\\n\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

/** What a client may set a template variable to: JSON scalars. */
export type TemplateKwarg = string | number | boolean | null;

// The names renderChat defines; a client's kwargs may not shadow them.
const RESERVED_VARIABLES = new Set([
  'true', 'false', 'none', 'True', 'False', 'None', 'range', 'raise_exception', 'strftime_now',
  'messages', 'add_generation_prompt', 'bos_token', 'eos_token', 'tools', 'documents',
]);

/** Why a client's template variable cannot be used, or null when it can. */
export function templateKwargsProblem(name: string): string | null {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `'${name}' is not a template variable name`;
  if (RESERVED_VARIABLES.has(name)) return `'${name}' is set by the server, not by chat_template_kwargs`;
  return null;
}

export function renderChat(template: string, messages: readonly ChatMessage[], opts: RenderChatOptions): string {
  let parsed: Template;
  try {
    parsed = new Template(template);
  } catch (err) {
    throw new ChatTemplateError(`chat template does not parse: ${(err as Error).message}`, { cause: err });
  }
  const system = messages[0]?.role === 'system';
  return renderParsed(parsed, system && !supportsSystemRole(template, parsed) ? withoutSystemRole(messages) : messages, opts);
}

const SYSTEM_PROBE = 'System message 7f3a';
const systemRoleSupport = new Map<string, boolean>();

/**
 * Whether a template renders a leading system message at all. Some (Gemma's) raise on one and
 * others drop it; as llama.cpp does, we ask the template once with a probe conversation.
 */
export function supportsSystemRole(template: string, parsed = new Template(template)): boolean {
  let known = systemRoleSupport.get(template);
  if (known === undefined) {
    const probe = [{ role: 'system', content: SYSTEM_PROBE }, { role: 'user', content: 'User message' }];
    try {
      known = renderParsed(parsed, probe, { addGenerationPrompt: true }).includes(SYSTEM_PROBE);
    } catch {
      known = false;
    }
    if (systemRoleSupport.size > 64) systemRoleSupport.clear();
    systemRoleSupport.set(template, known);
  }
  return known;
}

/** llama.cpp's workaround for such templates: the system prompt opens the next message, on its own line. */
function withoutSystemRole(messages: readonly ChatMessage[]): ChatMessage[] {
  const [system, next, ...rest] = messages;
  if (next === undefined) return [];
  return [{ ...next, content: `${system!.content}\n${next.content}` }, ...rest];
}

function renderParsed(parsed: Template, messages: readonly ChatMessage[], opts: RenderChatOptions): string {
  const now = opts.now;
  // Our own environment rather than Template.render's, whose globals cannot be replaced: we
  // want raise_exception to be told apart from a broken template, and a settable clock.
  for (const name of Object.keys(opts.templateKwargs ?? {})) {
    const problem = templateKwargsProblem(name);
    if (problem) throw new ChatTemplateError(`chat_template_kwargs: ${problem}`);
  }
  const variables: Record<string, unknown> = {
    ...opts.templateKwargs,
    true: true,
    false: false,
    none: null,
    True: true,
    False: false,
    None: null,
    range: pythonRange,
    raise_exception: (message: unknown) => {
      throw new ChatTemplateError(`chat template rejected the conversation: ${String(message)}`);
    },
    strftime_now: (format: unknown) => strftime(now ?? new Date(), String(format)),
    // Copies, so a template's `set` cannot reach the caller's objects; extra fields
    // (tool_calls, name...) pass through for templates that use them.
    messages: messages.map((m) => ({ ...m })),
    add_generation_prompt: opts.addGenerationPrompt,
    bos_token: opts.bosToken ?? '',
    eos_token: opts.eosToken ?? '',
    ...opts.extra,
  };
  const env = new Environment();
  for (const [name, value] of Object.entries(variables)) env.set(name, value);
  try {
    const result = new Interpreter(env).run(parsed.parsed).value;
    if (typeof result !== 'string') throw new Error(`rendered to ${typeof result}, not text`);
    return result;
  } catch (err) {
    if (err instanceof ChatTemplateError) throw err;
    throw new ChatTemplateError(`chat template failed to render: ${(err as Error).message}`, { cause: err });
  }
}

function pythonRange(start: number, stop?: number, step = 1): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  const out: number[] = [];
  if (step === 0) throw new Error('range() step must not be zero');
  for (let i = from; step > 0 ? i < to : i > to; i += step) out.push(i);
  return out;
}

/**
 * The chat template in a parsed tokenizer_config.json: a string, or transformers' list form
 * [{name, template}, ...] from which the "default" entry is used. Null when there is none.
 */
export function chatTemplateFromConfig(config: unknown): string | null {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ChatTemplateError('tokenizer config is not a JSON object');
  }
  const value = (config as Record<string, unknown>).chat_template;
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const names: string[] = [];
    for (const entry of value) {
      const e = entry as Record<string, unknown> | null;
      if (typeof e !== 'object' || e === null || typeof e.name !== 'string' || typeof e.template !== 'string') {
        throw new ChatTemplateError('chat_template list entries should be {name: string, template: string}');
      }
      if (e.name === 'default') return e.template;
      names.push(e.name);
    }
    throw new ChatTemplateError(`chat_template list has no "default" entry (has: ${names.join(', ')})`);
  }
  throw new ChatTemplateError(`chat_template should be a string or a list of {name, template}, not ${typeof value}`);
}

/**
 * The chat template of a Hugging Face model directory: chat_template.jinja (newer
 * transformers save it there), else tokenizer_config.json's chat_template, else null.
 */
export function loadChatTemplateFromDir(dir: string): string | null {
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return readFileSync(jinja, 'utf8');
  const configFile = join(dir, 'tokenizer_config.json');
  if (!existsSync(configFile)) return null;
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (err) {
    throw new ChatTemplateError(`${configFile}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return chatTemplateFromConfig(config);
}

const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Python's strftime for the directives chat templates use, in English as Python's C locale. */
function strftime(d: Date, format: string): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return format.replace(/%([YmdbBaAHMSyj%])/g, (_, c: string) => {
    switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'y': return pad(d.getFullYear() % 100);
      case 'm': return pad(d.getMonth() + 1);
      case 'd': return pad(d.getDate());
      case 'b': return MONTHS[d.getMonth()]!.slice(0, 3);
      case 'B': return MONTHS[d.getMonth()]!;
      case 'a': return DAYS[d.getDay()]!.slice(0, 3);
      case 'A': return DAYS[d.getDay()]!;
      case 'H': return pad(d.getHours());
      case 'M': return pad(d.getMinutes());
      case 'S': return pad(d.getSeconds());
      case 'j': {
        const days = (Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 86_400_000;
        return String(days + 1).padStart(3, '0');
      }
      default: return '%';
    }
  });
}
