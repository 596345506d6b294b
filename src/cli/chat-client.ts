// What `pensieve chat` says to a server: the first model it lists, and one streamed turn of the
// Responses API. Failures come back as ApiRequestError (the server's OpenAI-shaped error, so the
// chat can act on its code) or a plain Error with a message a user can read; a turn the user
// interrupts ends with `interrupted` instead of throwing.

/** A non-2xx answer, or an error event in a stream; `code` is OpenAI's (context_length_exceeded...). */
export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  constructor(
    readonly status: number | null,
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }
}

export interface TurnResult {
  /** The stored response's id, for previous_response_id; '' when the server did not say. */
  id: string;
  text: string;
  /** completed, incomplete (e.g. the context filled up) or interrupted (aborted by the user). */
  status: 'completed' | 'incomplete' | 'interrupted';
}

export interface TurnOptions {
  /** Called once, when the server has accepted the turn and before any text. */
  onAccepted?: () => void;
  onText: (delta: string) => void;
  signal: AbortSignal;
}

function headers(apiKey: string | undefined): Record<string, string> {
  return { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) };
}

/** fetch, with "fetch failed" replaced by what failed (connection refused, unknown host...). */
async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new Error(`cannot reach ${url}: ${cause ?? (err as Error).message}`);
  }
}

async function errorOf(res: Response): Promise<ApiRequestError> {
  const body = await res.text();
  try {
    const e = (JSON.parse(body) as { error?: { message?: string; code?: string | null } }).error;
    if (e?.message) return new ApiRequestError(res.status, `server answered ${res.status}: ${e.message}`, e.code ?? null);
  } catch {
    // not JSON: report the text as it came
  }
  return new ApiRequestError(res.status, `server answered ${res.status}: ${body.slice(0, 500)}`, null);
}

export async function firstModel(base: string, apiKey: string | undefined): Promise<string> {
  const res = await request(`${base}/models`, { headers: headers(apiKey) });
  if (!res.ok) throw await errorOf(res);
  const list = (await res.json()) as { data?: { id: string }[] };
  const id = list.data?.[0]?.id;
  if (!id) throw new Error(`${base}/models lists no model`);
  return id;
}

interface StreamEvent {
  type: string;
  delta?: string;
  response?: { id?: string; status?: string; error?: { message?: string; code?: string | null } | null };
  message?: string;
  code?: string | null;
}

/** Sends one turn with streaming, handing text to onText as it arrives. */
export async function streamTurn(base: string, apiKey: string | undefined, body: Record<string, unknown>, opts: TurnOptions): Promise<TurnResult> {
  const result: TurnResult = { id: '', text: '', status: 'completed' };
  try {
    const res = await request(`${base}/responses`, {
      method: 'POST',
      headers: headers(apiKey),
      body: JSON.stringify({ ...body, stream: true }),
      signal: opts.signal,
    });
    if (!res.ok || !res.body) throw await errorOf(res);
    opts.onAccepted?.();
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, end).split('\n').find((l) => l.startsWith('data: '))?.slice(6);
        buffer = buffer.slice(end + 2);
        if (data && data !== '[DONE]') onEvent(JSON.parse(data) as StreamEvent, result, opts);
      }
    }
  } catch (err) {
    if (!opts.signal.aborted) throw err;
    result.status = 'interrupted';
  }
  return result;
}

function onEvent(ev: StreamEvent, result: TurnResult, opts: TurnOptions): void {
  if (ev.type === 'response.output_text.delta' && ev.delta) {
    result.text += ev.delta;
    opts.onText(ev.delta);
  } else if (ev.type === 'response.failed') {
    const e = ev.response?.error;
    throw new ApiRequestError(null, `the reply failed: ${e?.message ?? 'no reason given'}`, e?.code ?? null);
  } else if (ev.type === 'error') {
    throw new ApiRequestError(null, `the reply failed: ${ev.message ?? 'no reason given'}`, ev.code ?? null);
  } else if (ev.response?.id) {
    result.id = ev.response.id;
    if (ev.type === 'response.incomplete') result.status = 'incomplete';
  }
}
