// How a chat model writes tool calls, read from its chat template: Hermes' <tool_call>{json}
// </tool_call> blocks (Qwen2.5, Qwen3, Hermes), Llama 3.1/3.2's bare {"name", "parameters"}
// object, Mistral's [TOOL_CALLS][{...}, ...] list. Each syntax gives the markers the output
// parser looks for and the literal text a forced call is written in, the same text the
// template renders for a call in the history (so its tokens are reused on the next turn).
// Reasoning (<think>…</think>: Qwen3, QwQ, DeepSeek-R1) is read from the template too.

export type ToolSyntaxName = 'hermes' | 'llama3' | 'mistral';

export interface ToolSyntax {
  name: ToolSyntaxName;
  /** Text that opens the calls in the output (null: the call is a bare JSON object at the start). */
  marker: string | null;
  /** Text that closes each call after its JSON object (Hermes' </tool_call>), or ''. */
  close: string;
  /** Whether the calls after the marker are a JSON list (Mistral). */
  list: boolean;
  /** The key the arguments are written under. */
  argumentsKey: 'arguments' | 'parameters';
  /** Whether the template can render several calls in one assistant message. */
  parallel: boolean;
  /** Tool call ids the template accepts (Mistral's: 9 alphanumerics). */
  idLength: number | null;
}

const SYNTAXES: Record<ToolSyntaxName, ToolSyntax> = {
  hermes: { name: 'hermes', marker: '<tool_call>', close: '</tool_call>', list: false, argumentsKey: 'arguments', parallel: true, idLength: null },
  llama3: { name: 'llama3', marker: null, close: '', list: false, argumentsKey: 'parameters', parallel: false, idLength: null },
  mistral: { name: 'mistral', marker: '[TOOL_CALLS]', close: '', list: true, argumentsKey: 'arguments', parallel: true, idLength: 9 },
};

/** The tool-call syntax a chat template renders calls in; null when it renders none. */
export function toolSyntaxOf(template: string | null): ToolSyntax | null {
  if (template === null) return null;
  if (template.includes('<tool_call>')) return SYNTAXES.hermes;
  if (template.includes('[TOOL_CALLS]')) return SYNTAXES.mistral;
  if (template.includes('"parameters": ') && template.includes('<|start_header_id|>') && template.includes('tool_calls')) return SYNTAXES.llama3;
  return null;
}

export function toolSyntax(name: ToolSyntaxName): ToolSyntax {
  return SYNTAXES[name];
}

/** Whether the template's models think in <think>…</think> before answering. */
export function templateReasons(template: string | null): boolean {
  return template !== null && template.includes('<think>') && template.includes('</think>');
}

export const THINK_OPEN = '<think>';
export const THINK_CLOSE = '</think>';

/**
 * Whether a generation starts inside its reasoning: the prompt already opened the think block
 * (DeepSeek-R1's template ends its generation prompt with "<think>\n"); Qwen3's empty block
 * (enable_thinking false) is closed, so the output starts with the answer.
 */
export function promptOpensReasoning(promptText: string): boolean {
  const open = promptText.lastIndexOf(THINK_OPEN);
  return open >= 0 && promptText.indexOf(THINK_CLOSE, open) < 0 && promptText.slice(open + THINK_OPEN.length).trim() === '';
}
