// Tools at the HTTP edge, for Chat Completions and Responses alike: the function definitions and
// tool_choice as each API spells them, read into one plan — what the chat template is given
// (`tools`), whether the output is parsed for calls, and, when a call is forced (tool_choice
// "required" or a named function), the grammar that makes the model write one well-formed call
// of a declared function whose arguments validate against its parameters schema.

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ResponseFormat } from '../engine/grammar/format.js';
import { compileFormat } from '../engine/grammar/format.js';
import { SchemaError } from '../engine/grammar/schema.js';
import type { ToolCallFormat } from '../engine/grammar/tool-calls.js';
import type { ModelInfo } from '../engine/protocol.js';
import type { ChatTool } from '../model/chat-template.js';
import { toolSyntax, type ToolSyntax } from '../model/tool-syntax.js';
import { badRequest } from './errors.js';

/** OpenAI's rule for a function's name. */
const functionName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, underscores or dashes');
const parameters = z.record(z.string(), z.unknown()).nullish();

export const ChatToolField = z.array(z.strictObject({
  type: z.literal('function'),
  function: z.strictObject({ name: functionName, description: z.string().nullish(), parameters, strict: z.boolean().nullish() }),
})).nullish();

export const ChatToolChoiceField = z.union([
  z.enum(['none', 'auto', 'required']),
  z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: z.string() }) }),
]).nullish();

export const ResponsesToolField = z.array(z.strictObject({
  type: z.literal('function'),
  name: functionName,
  description: z.string().nullish(),
  parameters,
  strict: z.boolean().nullish(),
})).nullish();

export const ResponsesToolChoiceField = z.union([
  z.enum(['none', 'auto', 'required']),
  z.strictObject({ type: z.literal('function'), name: z.string() }),
]).nullish();

export interface FunctionTool {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

export type ToolChoice = 'none' | 'auto' | 'required' | { name: string };

export interface ToolPlan {
  /** The definitions as the template's `tools` variable; empty: none. */
  templateTools: ChatTool[];
  /** The syntax to parse calls in; null: the output is all content. */
  parse: ToolSyntax | null;
  /** The forced call's grammar; absent: free text. */
  format?: ResponseFormat;
  choice: ToolChoice;
  parallel: boolean;
}

/** Where each field sits in the request, for the 400s' `param`. */
export interface ToolParams {
  tools: string;
  /** The parameters field of tool i. */
  parameters(i: number): string;
  toolChoice: string;
}

export const CHAT_TOOL_PARAMS: ToolParams = { tools: 'tools', parameters: (i) => `tools[${i}].function.parameters`, toolChoice: 'tool_choice' };
export const RESPONSES_TOOL_PARAMS: ToolParams = { tools: 'tools', parameters: (i) => `tools[${i}].parameters`, toolChoice: 'tool_choice' };

export function chatTools(tools: z.output<typeof ChatToolField>): FunctionTool[] {
  return (tools ?? []).map((t) => functionTool(t.function.name, t.function.description, t.function.parameters));
}

export function responsesTools(tools: z.output<typeof ResponsesToolField>): FunctionTool[] {
  return (tools ?? []).map((t) => functionTool(t.name, t.description, t.parameters));
}

function functionTool(name: string, description: string | null | undefined, params: Record<string, unknown> | null | undefined): FunctionTool {
  return { name, ...(description == null ? {} : { description }), ...(params == null ? {} : { parameters: params }) };
}

export function toolChoice(value: z.output<typeof ChatToolChoiceField> | z.output<typeof ResponsesToolChoiceField>): ToolChoice | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  return { name: 'function' in value ? value.function.name : value.name };
}

/**
 * The plan for a request's tools; 400s for what cannot be honoured: tools on a model whose
 * template renders no calls, a choice naming no declared function, a parameters schema the
 * grammar cannot enforce (when the call is forced), a forced call beside a response format.
 */
export function planTools(
  model: ModelInfo, tools: readonly FunctionTool[], choice: ToolChoice | undefined, parallel: boolean | null | undefined,
  params: ToolParams, hasResponseFormat: boolean,
): ToolPlan {
  const chosen: ToolChoice = choice ?? (tools.length > 0 ? 'auto' : 'none');
  const names = new Set<string>();
  tools.forEach((t, i) => {
    if (names.has(t.name)) throw badRequest(`${params.tools}[${i}]: a second function named '${t.name}'`, `${params.tools}[${i}]`, 'invalid_value');
    names.add(t.name);
  });
  if (tools.length === 0) {
    // OpenAI's rule: a choice other than none needs tools to choose from.
    if (chosen !== 'none' && choice !== undefined) throw badRequest(`${params.toolChoice}: there are no tools to choose from`, params.toolChoice, 'invalid_value');
    return { templateTools: [], parse: null, choice: 'none', parallel: false };
  }
  if (model.toolSyntax === null) {
    throw badRequest(`${params.tools}: this model's chat template has no tool-call format, so it cannot be given tools`, params.tools, 'unsupported_parameter');
  }
  const syntax = toolSyntax(model.toolSyntax);
  const templateTools: ChatTool[] = tools.map((t) => ({
    type: 'function',
    function: { name: t.name, ...(t.description === undefined ? {} : { description: t.description }), parameters: t.parameters ?? { type: 'object', properties: {} } },
  }));
  const parallelCalls = parallel ?? true;
  const plan: ToolPlan = { templateTools, parse: chosen === 'none' ? null : syntax, choice: chosen, parallel: parallelCalls };
  if (chosen === 'none' || chosen === 'auto') return plan;
  if (typeof chosen === 'object' && !names.has(chosen.name)) {
    throw badRequest(`${params.toolChoice}: no function named '${chosen.name}' is in ${params.tools}`, params.toolChoice, 'invalid_value');
  }
  if (hasResponseFormat) throw badRequest('a forced tool call (tool_choice) and a response format cannot be used together', params.toolChoice, 'invalid_value');
  const callable = typeof chosen === 'object' ? tools.filter((t) => t.name === chosen.name) : tools;
  const calls = forcedCallFormat(syntax, callable.map((t) => ({ name: t.name, parameters: t.parameters ?? { type: 'object', properties: {} } })), parallelCalls);
  const format: ResponseFormat = { type: 'tool_calls', calls };
  try {
    compileFormat(format);
  } catch (err) {
    if (err instanceof SchemaError) {
      const i = tools.findIndex((t) => err.at.startsWith(`#/${t.name}`));
      const param = i >= 0 ? params.parameters(i) : params.tools;
      throw badRequest(`${param}: ${err.message}`, param, 'unsupported_value');
    }
    throw err;
  }
  return { ...plan, format };
}

/**
 * A forced call in this syntax, written exactly as the template renders a call (Python's tojson
 * spacing), for the functions given.
 */
export function forcedCallFormat(syntax: ToolSyntax, functions: ReadonlyArray<{ name: string; parameters: unknown }>, parallel: boolean): ToolCallFormat {
  const head = (name: string) => `{"name": "${name}", "${syntax.argumentsKey}": `;
  const maxCalls = parallel && syntax.parallel ? Infinity : 1;
  switch (syntax.name) {
    case 'hermes':
      return { prefix: '', separator: '\n', suffix: '', maxCalls, functions: functions.map((f) => ({ name: f.name, open: `<tool_call>\n${head(f.name)}`, parameters: f.parameters, close: '}\n</tool_call>' })) };
    case 'llama3':
      return { prefix: '', separator: '', suffix: '', maxCalls: 1, functions: functions.map((f) => ({ name: f.name, open: head(f.name), parameters: f.parameters, close: '}' })) };
    case 'mistral':
      return { prefix: '[TOOL_CALLS][', separator: ', ', suffix: ']', maxCalls, functions: functions.map((f) => ({ name: f.name, open: head(f.name), parameters: f.parameters, close: '}' })) };
  }
}

/** A new tool call id: OpenAI's call_ form, or the 9 alphanumerics Mistral's template demands. */
export function newCallId(syntax: ToolSyntax | null): string {
  if (syntax?.idLength != null) {
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    return [...randomBytes(syntax.idLength)].map((b) => alphabet[b % alphabet.length]).join('');
  }
  return `call_${randomBytes(12).toString('hex')}`;
}

/** Arguments as templates want them (an object for tojson); text that does not parse stays text. */
export function argumentsForTemplate(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
