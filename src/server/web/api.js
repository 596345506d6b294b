// Talks to the server's /v1 API with the key from the settings (sent as a Bearer token).

const settingsKey = 'pensieve.settings';

/** The settings form's values, kept in localStorage. */
export function loadSettings() {
  try {
    return { apiKey: '', model: '', temperature: 0.8, maxTokens: 256, instructions: '', ...JSON.parse(localStorage.getItem(settingsKey) ?? '{}') };
  } catch {
    return { apiKey: '', model: '', temperature: 0.8, maxTokens: 256, instructions: '' };
  }
}

export function saveSettings(settings) {
  localStorage.setItem(settingsKey, JSON.stringify(settings));
}

function headers() {
  const { apiKey } = loadSettings();
  const h = { 'content-type': 'application/json' };
  if (apiKey) h.authorization = `Bearer ${apiKey}`;
  return h;
}

/** The API's error message from a failed response. */
async function failure(res) {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body?.error?.message) message = body.error.message;
  } catch {}
  return new Error(message);
}

export async function getJson(path, signal) {
  const res = await fetch(`/v1${path}`, { headers: headers(), signal });
  if (!res.ok) throw await failure(res);
  return res.json();
}

/**
 * POST /v1/responses with stream: true; calls onEvent(type, data) per server-sent event.
 * Read with fetch and a ReadableStream (EventSource cannot POST or send a header).
 */
export async function streamResponse(body, onEvent, signal) {
  const res = await fetch('/v1/responses', { method: 'POST', headers: headers(), body: JSON.stringify({ ...body, stream: true }), signal });
  if (!res.ok) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length === 0) continue;
      const text = data.join('\n');
      if (text === '[DONE]') return;
      onEvent(type, JSON.parse(text));
    }
  }
}
