// The chat page: conversations on the Responses API. Each turn continues from the previous turn's
// response (previous_response_id), so the server keeps the history and its KV; a branch is a new
// conversation that shares the first turns of another and continues from the chosen one.
// Conversations are kept in localStorage: {id, title, turns: [{user, assistant, responseId, status}]}.

import { loadSettings, streamResponse } from './api.js';

const storeKey = 'pensieve.conversations';
const $ = (id) => document.getElementById(id);

let conversations = load();
let currentId = conversations[0]?.id ?? null;
let controller = null;

function load() {
  try {
    const list = JSON.parse(localStorage.getItem(storeKey) ?? '[]');
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

function persist() {
  localStorage.setItem(storeKey, JSON.stringify(conversations));
}

const current = () => conversations.find((c) => c.id === currentId) ?? null;
const newId = () => `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** The cache's name of a conversation: its first response's id (the chain's root). */
export function cacheNameOf(conversation) {
  return conversation.turns.find((t) => t.responseId)?.responseId ?? null;
}

/** Local titles by cache name, for the cache page's bars. */
export function titlesByCacheName() {
  // Branches keep their origin's first response, so they share its name: the origin's title
  // stands for them all.
  const groups = new Map();
  for (const c of conversations) {
    const name = cacheNameOf(c);
    if (name === null) continue;
    const group = groups.get(name) ?? { title: null, count: 0 };
    group.count++;
    if (group.title === null || !c.branchOf) group.title = c.title;
    groups.set(name, group);
  }
  const titles = new Map();
  for (const [name, g] of groups) titles.set(name, g.count > 1 ? `${g.title} (+${g.count - 1} branch${g.count > 2 ? 'es' : ''})` : g.title);
  return titles;
}

function renderList() {
  const list = $('conversation-list');
  list.replaceChildren(
    ...conversations.map((c) => {
      const li = document.createElement('li');
      li.setAttribute('aria-current', String(c.id === currentId));
      const open = document.createElement('button');
      open.type = 'button';
      open.className = 'open';
      open.textContent = c.title;
      open.title = c.title;
      open.addEventListener('click', () => select(c.id));
      const del = document.createElement('button');
      del.type = 'button';
      del.className = 'delete';
      del.textContent = '×';
      del.setAttribute('aria-label', `Delete conversation ${c.title}`);
      del.addEventListener('click', () => remove(c.id));
      li.append(open, del);
      return li;
    }),
  );
}

function messageElement(role, text, turnIndex) {
  const li = document.createElement('li');
  li.className = `message ${role}`;
  const head = document.createElement('div');
  head.className = 'role';
  head.textContent = role === 'user' ? 'You' : 'Model';
  const body = document.createElement('p');
  body.className = 'text';
  body.textContent = text;
  li.append(head, body);
  li.dataset.turn = String(turnIndex);
  return li;
}

function renderMessages() {
  const conv = current();
  const ol = $('messages');
  if (conv === null) {
    ol.replaceChildren();
    return;
  }
  const items = [];
  conv.turns.forEach((turn, i) => {
    items.push(messageElement('user', turn.user, i));
    const reply = messageElement('assistant', turn.assistant, i);
    if (turn.status && turn.status !== 'completed') {
      const status = document.createElement('span');
      status.className = 'status';
      status.textContent = turn.status === 'stopped' ? 'stopped — not kept by the server' : turn.status === 'incomplete' ? 'incomplete: max tokens reached' : turn.status;
      reply.querySelector('.role').append(status);
    }
    if (turn.responseId) {
      const actions = document.createElement('div');
      actions.className = 'actions';
      const branch = document.createElement('button');
      branch.type = 'button';
      branch.className = 'secondary branch';
      branch.textContent = 'Branch from here';
      branch.setAttribute('aria-label', `Branch a new conversation from turn ${i + 1}`);
      branch.addEventListener('click', () => branchFrom(i));
      actions.append(branch);
      reply.append(actions);
    }
    items.push(reply);
  });
  ol.replaceChildren(...items);
  ol.scrollTop = ol.scrollHeight;
}

function render() {
  renderList();
  renderMessages();
}

function select(id) {
  if (controller !== null) return;
  currentId = id;
  render();
  $('prompt').focus();
}

function remove(id) {
  if (controller !== null && id === currentId) return;
  conversations = conversations.filter((c) => c.id !== id);
  if (currentId === id) currentId = conversations[0]?.id ?? null;
  persist();
  render();
}

function startConversation(title, turns = [], branchOf = null) {
  const conv = { id: newId(), title, turns, ...(branchOf === null ? {} : { branchOf }) };
  conversations.unshift(conv);
  currentId = conv.id;
  persist();
  return conv;
}

function branchFrom(turnIndex) {
  const conv = current();
  if (conv === null || controller !== null) return;
  const turns = conv.turns.slice(0, turnIndex + 1).map((t) => ({ ...t }));
  // The list shows a title's start: the branch's part first.
  startConversation(`Branch at turn ${turnIndex + 1} of ${conv.title}`, turns, conv.id);
  render();
  $('prompt').focus();
}

function setBusy(busy) {
  $('send').hidden = busy;
  $('stop').hidden = !busy;
  $('prompt').disabled = busy;
  if (busy) $('stop').focus();
  else $('prompt').focus();
}

async function send(text) {
  const settings = loadSettings();
  const conv = current() ?? startConversation(text.slice(0, 40));
  const previous = [...conv.turns].reverse().find((t) => t.responseId)?.responseId ?? null;
  const turn = { user: text, assistant: '', responseId: null, status: 'in_progress' };
  conv.turns.push(turn);
  persist();
  render();
  const reply = $('messages').lastElementChild;
  const out = reply.querySelector('.text');
  reply.classList.add('streaming');
  // Screen readers hear the reply once it is whole, not a word at a time.
  reply.setAttribute('aria-busy', 'true');
  controller = new AbortController();
  setBusy(true);
  const body = {
    // The settings keep the model once it is chosen; until then, the list's first.
    model: settings.model || $('model').value || undefined,
    input: text,
    temperature: Number(settings.temperature),
    max_output_tokens: Number(settings.maxTokens),
    ...(previous === null ? {} : { previous_response_id: previous }),
    ...(settings.instructions ? { instructions: settings.instructions } : {}),
  };
  const ol = $('messages');
  try {
    await streamResponse(body, (type, data) => {
      if (type === 'response.output_text.delta') {
        // Follow the reply only when the reader is at the bottom already.
        const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 8;
        turn.assistant += data.delta;
        out.textContent = turn.assistant;
        if (atBottom) ol.scrollTop = ol.scrollHeight;
      } else if (type === 'response.completed' || type === 'response.incomplete') {
        turn.responseId = data.response.id;
        turn.status = data.response.status;
      } else if (type === 'response.failed') {
        turn.status = `failed: ${data.response?.error?.message ?? 'error'}`;
      } else if (type === 'error') {
        turn.status = `failed: ${data.error?.message ?? data.message ?? 'error'}`;
      }
    }, controller.signal);
    if (turn.status === 'in_progress') turn.status = 'stopped';
  } catch (err) {
    turn.status = err.name === 'AbortError' ? 'stopped' : `failed: ${err.message}`;
  } finally {
    controller = null;
    persist();
    render();
    setBusy(false);
  }
}

export function initChat() {
  $('new-chat').addEventListener('click', () => {
    if (controller !== null) return;
    currentId = null;
    render();
    $('prompt').focus();
  });
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('prompt').value.trim();
    if (text === '' || controller !== null) return;
    $('prompt').value = '';
    send(text);
  });
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('stop').addEventListener('click', () => controller?.abort());
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && controller !== null) controller.abort();
  });
  render();
}
