// A chat model's output split, as it streams, into what the APIs report apart: reasoning (the
// <think> block), content, and tool calls in the template's syntax (tool-syntax.ts). Text is
// pushed piece by piece; each push returns the events it completes: content and reasoning as
// soon as they cannot be the start of a tag, a call as soon as its name is known, its arguments
// as their JSON text arrives. The whole output parsed at once is the same pushes (parseOutput).

import { THINK_CLOSE, THINK_OPEN, type ToolSyntax } from './tool-syntax.js';

export type OutputEvent =
  | { type: 'reasoning'; text: string }
  | { type: 'content'; text: string }
  | { type: 'call'; index: number; name: string }
  | { type: 'arguments'; index: number; text: string };

export interface ParsedCall {
  name: string;
  /** The arguments' JSON text as the model wrote it (it may not parse when the output was cut). */
  arguments: string;
}

export interface ParsedOutput {
  /** null: no reasoning block. */
  reasoning: string | null;
  content: string;
  calls: ParsedCall[];
}

export interface OutputParserOptions {
  /** none: the model does not reason; maybe: the output may open with <think>; open: it starts inside the block. */
  reasoning: 'none' | 'maybe' | 'open';
  /** The syntax calls are parsed in; null: no tools, everything after reasoning is content. */
  tools: ToolSyntax | null;
}

type Mode = 'start' | 'reasoning' | 'content' | 'call' | 'between';

const HEADER = /^\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"(?:arguments|parameters)"\s*:\s*/;

export class OutputParser {
  private mode: Mode;
  private buf = '';
  private reasoning: string | null = null;
  private content = '';
  private readonly calls: ParsedCall[] = [];
  /** Whether any content (not whitespace) was seen: a Llama 3 call must open the output. */
  private contentSeen = false;
  /** Whitespace after the think block is dropped until the answer starts. */
  private trimContentStart = false;
  // The call being read: where its object starts in buf, whether its name was reported, how much of its arguments was.
  // `held`: the text the block consumed before its first object (its marker, a list's '['), content again if no call follows.
  private call: { headerEmitted: boolean; argsStart: number; argsSent: number; inList: boolean; listOpened: boolean; held: string; callsBefore: number } | null = null;

  constructor(private readonly options: OutputParserOptions) {
    this.mode = options.reasoning === 'open' ? 'reasoning' : options.reasoning === 'maybe' ? 'start' : 'content';
    if (options.reasoning === 'open') this.reasoning = '';
  }

  push(text: string): OutputEvent[] {
    this.buf += text;
    const out: OutputEvent[] = [];
    while (this.step(out, false));
    return out;
  }

  /** The output is complete: whatever is held back is reported for what it is. */
  end(): OutputEvent[] {
    const out: OutputEvent[] = [];
    while (this.step(out, true));
    if (this.buf !== '') this.emitContent(out, this.buf);
    this.buf = '';
    return out;
  }

  result(): ParsedOutput {
    return { reasoning: this.reasoning, content: this.content, calls: this.calls.map((c) => ({ ...c })) };
  }

  /** One move of the state machine; false when it needs more text. */
  private step(out: OutputEvent[], final: boolean): boolean {
    switch (this.mode) {
      case 'start': {
        const lead = this.buf.trimStart();
        if (lead.startsWith(THINK_OPEN)) {
          this.buf = lead.slice(THINK_OPEN.length);
          this.reasoning = '';
          this.mode = 'reasoning';
          return true;
        }
        if (!final && THINK_OPEN.startsWith(lead)) return false;
        this.mode = 'content';
        return true;
      }
      case 'reasoning': {
        const at = this.buf.indexOf(THINK_CLOSE);
        if (at >= 0) {
          this.emitReasoning(out, this.buf.slice(0, at).trimEnd());
          this.buf = this.buf.slice(at + THINK_CLOSE.length);
          this.mode = 'content';
          this.trimContentStart = true;
          return true;
        }
        if (final) {
          this.emitReasoning(out, this.buf.trimEnd());
          this.buf = '';
          return false;
        }
        // Hold back what may be the start of </think>, and trailing whitespace (dropped before it).
        const keep = holdBack(this.buf, THINK_CLOSE);
        this.emitReasoning(out, this.buf.slice(0, this.buf.length - keep));
        this.buf = this.buf.slice(this.buf.length - keep);
        return false;
      }
      case 'content':
        return this.stepContent(out, final);
      case 'call':
        return this.stepCall(out, final);
      case 'between':
        return this.stepBetween(final);
    }
  }

  private stepContent(out: OutputEvent[], final: boolean): boolean {
    if (this.trimContentStart) {
      this.buf = this.buf.trimStart();
      if (this.buf === '') return false;
      this.trimContentStart = false;
    }
    const syntax = this.options.tools;
    if (syntax === null) {
      this.emitContent(out, this.buf);
      this.buf = '';
      return false;
    }
    if (!this.contentSeen && (syntax.marker === null || syntax.list)) {
      // Llama 3: a call is the whole message, a JSON object first thing. Mistral: the list may
      // open the reply bare, its [TOOL_CALLS] marker being a special token the text leaves out.
      const lead = this.buf.trimStart();
      const maybeMarker = syntax.marker !== null && (lead.startsWith(syntax.marker) || (!final && syntax.marker.startsWith(lead)));
      if (!maybeMarker && lead.startsWith(syntax.list ? '[' : '{')) {
        this.buf = lead;
        this.startCall('');
        return true;
      }
      if (lead === '' && !final) return false;
    }
    if (syntax.marker === null) {
      this.emitContent(out, this.buf);
      this.buf = '';
      return false;
    }
    const at = this.buf.indexOf(syntax.marker);
    if (at >= 0) {
      this.emitContent(out, this.buf.slice(0, at).trimEnd());
      this.buf = this.buf.slice(at + syntax.marker.length);
      this.startCall(syntax.marker);
      return true;
    }
    const keep = final ? 0 : holdBack(this.buf, syntax.marker);
    this.emitContent(out, this.buf.slice(0, this.buf.length - keep));
    this.buf = this.buf.slice(this.buf.length - keep);
    return false;
  }

  private startCall(marker: string): void {
    this.mode = 'call';
    this.call = { headerEmitted: false, argsStart: 0, argsSent: 0, inList: this.options.tools!.list, listOpened: false, held: marker, callsBefore: this.calls.length };
  }

  private stepCall(out: OutputEvent[], final: boolean): boolean {
    const call = this.call!;
    if (call.inList && !call.listOpened) {
      const lead = this.buf.trimStart();
      if (lead === '' && !final) return false;
      if (!lead.startsWith('[')) return this.notACall(out, final);
      this.buf = lead.slice(1);
      call.listOpened = true;
      call.held += '[';
    }
    const lead = this.buf.trimStart();
    if (lead === '') {
      if (final) return this.notACall(out, final);
      return false;
    }
    if (!lead.startsWith('{')) return this.notACall(out, final);
    this.buf = lead;
    const index = this.calls.length;
    if (!call.headerEmitted) {
      const header = HEADER.exec(this.buf);
      if (header) {
        let name: string;
        try {
          name = JSON.parse(`"${header[1]}"`) as string;
        } catch {
          name = header[1]!;
        }
        call.headerEmitted = true;
        call.argsStart = header[0].length;
        call.argsSent = call.argsStart;
        this.calls.push({ name, arguments: '' });
        out.push({ type: 'call', index, name });
      }
    }
    const objectEnd = jsonEnd(this.buf, 0);
    if (call.headerEmitted) {
      const current = this.calls[this.calls.length - 1]!;
      // Whitespace before the value (the space after the colon may come in a later token) is no part of it.
      if (call.argsSent === call.argsStart) {
        while (call.argsStart < this.buf.length && /\s/.test(this.buf[call.argsStart]!)) call.argsStart++;
        call.argsSent = call.argsStart;
      }
      const argsEnd = jsonEnd(this.buf, call.argsStart);
      const upTo = argsEnd ?? this.buf.length;
      if (upTo > call.argsSent) {
        const piece = this.buf.slice(call.argsSent, upTo);
        current.arguments += piece;
        out.push({ type: 'arguments', index: this.calls.length - 1, text: piece });
        call.argsSent = upTo;
      }
      if (objectEnd === null) {
        // Cut before the object closed (max_tokens): the call stands as far as it got.
        if (final) {
          this.buf = '';
          this.mode = 'content';
          this.contentSeen = true;
        }
        return false;
      }
    } else {
      if (objectEnd === null) {
        if (final) return this.notACall(out, final);
        return false;
      }
      // Not in name-first order: the whole object decides.
      const parsed = parseCallObject(this.buf.slice(0, objectEnd));
      if (parsed === null) return this.notACall(out, final);
      this.calls.push(parsed);
      out.push({ type: 'call', index, name: parsed.name }, { type: 'arguments', index, text: parsed.arguments });
    }
    this.buf = this.buf.slice(objectEnd);
    call.headerEmitted = false;
    this.mode = 'between';
    return true;
  }

  /** After a call: its closing tag, then another call or the rest as content. */
  private stepBetween(final: boolean): boolean {
    const syntax = this.options.tools!;
    const call = this.call!;
    let lead = this.buf.trimStart();
    if (syntax.close !== '') {
      if (lead.startsWith(syntax.close)) lead = lead.slice(syntax.close.length).trimStart();
      else if (syntax.close.startsWith(lead)) {
        if (!final) return false;
        lead = ''; // the reply was cut inside the closing tag: the call itself is whole
      }
    }
    if (lead === '' && !final) {
      this.buf = '';
      return false;
    }
    if (call.inList) {
      if (lead.startsWith(',')) {
        this.buf = lead.slice(1);
        this.mode = 'call';
        return true;
      }
      if (lead.startsWith(']')) lead = lead.slice(1);
    } else if (syntax.marker !== null) {
      if (lead.startsWith(syntax.marker)) {
        this.startCall(syntax.marker);
        this.buf = lead.slice(syntax.marker.length);
        return true;
      }
      if (!final && syntax.marker.startsWith(lead)) {
        this.buf = lead;
        return false;
      }
    } else if (lead.startsWith(';')) {
      this.startCall('');
      this.buf = lead.slice(1);
      return true;
    }
    this.buf = lead;
    this.mode = 'content';
    this.contentSeen = true;
    this.trimContentStart = true;
    return true;
  }

  /** What followed the marker is no call: the marker and the text are content. */
  private notACall(out: OutputEvent[], final: boolean): boolean {
    const call = this.call!;
    const text = (this.calls.length === call.callsBefore ? call.held : '') + this.buf;
    this.buf = '';
    this.mode = 'content';
    this.contentSeen = true;
    this.emitContent(out, text);
    return false;
  }

  private emitReasoning(out: OutputEvent[], text: string): void {
    if (text === '') return;
    if (this.reasoning === '') text = text.trimStart();
    if (text === '') return;
    this.reasoning = (this.reasoning ?? '') + text;
    out.push({ type: 'reasoning', text });
  }

  private emitContent(out: OutputEvent[], text: string): void {
    if (text === '') return;
    if (text.trim() !== '') this.contentSeen = true;
    this.content += text;
    out.push({ type: 'content', text });
  }
}

/** The whole output at once: the same parser, pushed once. */
export function parseOutput(text: string, options: OutputParserOptions): ParsedOutput {
  const parser = new OutputParser(options);
  parser.push(text);
  parser.end();
  return parser.result();
}

/** How much of the end of `text` to hold back: what may be the start of `tag`, and the whitespace before it (dropped before a tag). */
function holdBack(text: string, tag: string): number {
  let k = partialSuffix(text, tag);
  while (k < text.length && /\s/.test(text[text.length - 1 - k]!)) k++;
  return k;
}

/** The length of the longest suffix of `text` that is a proper prefix of `tag`. */
function partialSuffix(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) if (text.endsWith(tag.slice(0, n))) return n;
  return 0;
}

/**
 * Where the JSON value starting at `start` (after whitespace) ends, or null when the text ends
 * first. Only brackets and strings are tracked: the value is checked when it is parsed.
 */
export function jsonEnd(text: string, start: number): number | null {
  let i = start;
  while (i < text.length && /\s/.test(text[i]!)) i++;
  if (i >= text.length) return null;
  let depth = 0;
  let inString = false;
  const first = text[i]!;
  if (first !== '{' && first !== '[' && first !== '"') {
    // A scalar: it ends at the first delimiter.
    for (; i < text.length; i++) if (/[\s,}\]]/.test(text[i]!)) return i;
    return null;
  }
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return null;
}

/** A call object in any key order: {"name", "arguments"|"parameters"}; null when it is not one. */
function parseCallObject(text: string): ParsedCall | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const o = value as Record<string, unknown>;
  if (typeof o.name !== 'string') return null;
  const args = o.arguments ?? o.parameters ?? {};
  return { name: o.name, arguments: typeof args === 'string' ? args : JSON.stringify(args) };
}
