// The page's shell: two views (#chat, #cache) switched by the URL's hash, and the settings form
// (API key, model, sampling), kept in localStorage.

import { getJson, loadSettings, saveSettings } from './api.js';
import { startCache, stopCache } from './cache.js';
import { initChat } from './chat.js';

const $ = (id) => document.getElementById(id);

function route() {
  const page = location.hash === '#cache' ? 'cache' : 'chat';
  $('page-chat').hidden = page !== 'chat';
  $('page-cache').hidden = page !== 'cache';
  for (const name of ['chat', 'cache']) {
    if (name === page) $(`nav-${name}`).setAttribute('aria-current', 'page');
    else $(`nav-${name}`).removeAttribute('aria-current');
  }
  if (page === 'cache') startCache();
  else stopCache();
}

async function loadModels(selected) {
  const select = $('model');
  try {
    const { data } = await getJson('/models');
    select.replaceChildren(
      ...data.map((m) => {
        const option = document.createElement('option');
        option.value = m.id;
        option.textContent = m.id;
        option.selected = m.id === selected;
        return option;
      }),
    );
    $('notice').hidden = true;
  } catch (err) {
    $('notice').textContent = `${err.message} (set the API key under Settings)`;
    $('notice').hidden = false;
  }
}

function initSettings() {
  const s = loadSettings();
  $('api-key').value = s.apiKey;
  $('temperature').value = String(s.temperature);
  $('max-tokens').value = String(s.maxTokens);
  $('instructions').value = s.instructions;
  const save = () => {
    saveSettings({
      apiKey: $('api-key').value.trim(),
      model: $('model').value,
      temperature: Number($('temperature').value),
      maxTokens: Number($('max-tokens').value),
      instructions: $('instructions').value,
    });
  };
  $('settings').addEventListener('input', save);
  $('settings').addEventListener('submit', (e) => e.preventDefault());
  $('api-key').addEventListener('change', () => loadModels($('model').value));
  loadModels(s.model);
}

initSettings();
initChat();
addEventListener('hashchange', route);
route();
