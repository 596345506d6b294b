// The web page in a real browser (Debian's chromium, driven by playwright-core; no browser is
// downloaded): type a message and see the streamed reply (the text of the SSE deltas the page
// read), continue, branch from the first turn, then fill tiny KV tiers from outside and watch the
// first conversation's bar on the cache page leave the device and, continued, come back; stop a
// reply from the keyboard. Screenshots of both pages go to .pensieve/artifacts/ (gitignored).
// Skips, saying why, where /usr/bin/chromium is absent (CI installs it: .ci/run).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from '../../helpers/paths.js';
import { startServer, stopServer } from '../../helpers/serve.js';
import { STORIES } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, '.pensieve', 'artifacts');
const KEY = 'sk-web-test';
// stories260K's KV is 40 KiB per 32-token chunk (f32): 20 chunks on device, 4 in host memory,
// about 93 on disk, so a few 500-token replies push an idle conversation down the tiers (and
// mostly not off the disk: continuing it then swaps its chunks back in).
const TINY_TIERS = ['--kv-cache-memory', '800K', '--kv-host-memory', '160K', '--kv-disk-space', '4M'];

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) to run the browser test`;

interface Layout {
  dropped: number;
  disk: number;
  host: number;
  device: number;
}

async function send(page: Page, text: string): Promise<void> {
  const before = await page.locator('.message.assistant .branch').count();
  await page.locator('#prompt').fill(text);
  await page.locator('#prompt').press('Enter');
  // A finished turn gets its branch button (it has a response id to continue from).
  await page.locator('.message.assistant .branch').nth(before).waitFor({ timeout: 20_000 });
}

async function layoutOf(page: Page, conversation: string): Promise<Layout | null> {
  const li = page.locator(`#layouts li[data-conversation="${conversation}"]`);
  if ((await li.count()) === 0) return null;
  const read = async (k: keyof Layout) => Number(await li.getAttribute(`data-${k}`));
  return { dropped: await read('dropped'), disk: await read('disk'), host: await read('host'), device: await read('device') };
}

async function waitForLayout(page: Page, conversation: string, ok: (l: Layout) => boolean, timeoutMs: number): Promise<Layout> {
  const end = Date.now() + timeoutMs;
  let last: Layout | null = null;
  while (Date.now() < end) {
    last = await layoutOf(page, conversation);
    if (last !== null && ok(last)) return last;
    await page.waitForTimeout(200);
  }
  throw new Error(`conversation ${conversation}'s layout stayed ${JSON.stringify(last)}`);
}

test('the web page: a streamed chat, a branch, and a conversation\'s bar moving down the tiers', { skip, timeout: 90_000 }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pensieve-web-'));
  const server = await startServer(['--model', STORIES, '--data-dir', dataDir, '--api-key', KEY, ...TINY_TIERS]);
  const origin = server.baseURL.replace(/\/v1$/, '');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 680 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${origin}/`);

    // The API key goes in Settings; the model list then loads from /v1/models.
    await page.locator('.settings summary').click();
    await page.locator('#api-key').fill(KEY);
    await page.locator('#api-key').press('Tab');
    await page.locator('#model option[value="stories260K"]').waitFor({ state: 'attached' });
    await page.locator('#max-tokens').fill('60');
    await page.locator('#temperature').fill('0');
    await page.locator('.settings summary').click();

    // Sum the layout shifts while the reply streams.
    await page.evaluate(() => {
      const w = window as unknown as { shift: number };
      w.shift = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries() as unknown as { value: number; hadRecentInput: boolean }[]) if (!e.hadRecentInput) w.shift += e.value;
      }).observe({ type: 'layout-shift', buffered: false });
    });
    const response = page.waitForResponse((r) => r.url().endsWith('/v1/responses') && r.request().method() === 'POST');
    await send(page, 'Once upon a time there was a little girl named Lily who loved to play in the park.');
    // The page asked for a stream and shows exactly the text of its deltas (how many network
    // reads they arrived in is the network's business: the tiny model writes 60 tokens in ms).
    const res = await response;
    assert.equal((JSON.parse(res.request().postData() ?? '{}') as { stream?: boolean }).stream, true);
    assert.match((await res.allHeaders())['content-type'] ?? '', /^text\/event-stream/);
    const deltas = (await res.text())
      .split('\n')
      .filter((line) => line.startsWith('data: {'))
      .map((line) => JSON.parse(line.slice(6)) as { type: string; delta?: string })
      .filter((e) => e.type === 'response.output_text.delta')
      .map((e) => e.delta!);
    assert.ok(deltas.length >= 10, `a reply in many deltas: ${deltas.length}`);
    const first = await page.locator('.message.assistant .text').first().textContent();
    assert.equal(first, deltas.join(''));
    const shift = await page.evaluate(() => (window as unknown as { shift: number }).shift);
    assert.ok(shift < 0.01, `no layout shift while streaming (cumulative ${shift})`);

    await send(page, 'Then she saw a big red ball.');
    assert.equal(await page.locator('.message').count(), 4);

    // Branch from the first turn: a second conversation with that turn, continuing from it.
    await page.locator('.message.assistant .branch').first().click();
    assert.equal(await page.locator('#conversation-list li').count(), 2);
    assert.equal(await page.locator('.message').count(), 2);
    await send(page, 'But the sky turned dark and it began to rain.');
    assert.equal(await page.locator('.message').count(), 4);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-chat.png') });

    // The original conversation's cache name is its first response's id (the chain's root).
    const conversations = await page.evaluate(() => JSON.parse(localStorage.getItem('pensieve.conversations') ?? '[]') as { title: string; turns: { responseId: string | null }[] }[]);
    assert.equal(conversations.length, 2);
    const original = conversations.find((c) => c.turns.length === 2)!;
    const root = original.turns[0]!.responseId!;
    assert.equal(conversations.find((c) => c !== original)!.turns[0]!.responseId, root, 'the branch shares the first turn');

    await page.goto(`${origin}/#cache`);
    const before = await waitForLayout(page, root, (l) => l.device > 0, 10_000);

    // Other clients fill the tiny tiers until the idle conversation's chunks leave the device
    // (about five 500-token replies; how many depends on where each reply stops).
    const auth = { authorization: `Bearer ${KEY}` };
    let moved = false;
    for (let i = 0; i < 16 && !moved; i++) {
      const res = await fetch(`${server.baseURL}/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ model: 'stories260K', input: `Tom ${i} went to the big shop to buy a red ball.`, max_output_tokens: 500, temperature: 0.9 }),
      });
      assert.equal(res.status, 200, await res.text());
      const view = (await (await fetch(`${server.baseURL}/pensieve/cache`, { headers: auth })).json()) as { conversations: { id: string; chunks: Layout }[] };
      moved = (view.conversations.find((c) => c.id === root)?.chunks.device ?? before.device) < before.device;
    }
    assert.ok(moved, 'the fillers pushed the conversation off the device');
    const after = await waitForLayout(page, root, (l) => l.device < before.device && l.dropped + l.disk + l.host > 0, 10_000);
    assert.ok(after.device < before.device, `left the device: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);

    // Continuing it brings its history back to the device (swapped in, or recomputed where dropped).
    await page.locator('#nav-chat').click();
    await page.locator('#conversation-list').getByRole('button', { name: original.title, exact: true }).click();
    assert.equal(await page.locator('.message').count(), 4);
    await send(page, 'Lily ran home to her mom.');
    await page.locator('#nav-cache').click();
    const back = await waitForLayout(page, root, (l) => l.device > after.device, 10_000);
    assert.ok(back.device > after.device, `back on the device: ${JSON.stringify(after)} → ${JSON.stringify(back)}`);
    const view = (await (await fetch(`${server.baseURL}/pensieve/cache`, { headers: auth })).json()) as {
      served_tokens: { host: number; disk: number };
      recomputed_tokens: number;
    };
    const fromBelow = view.served_tokens.host + view.served_tokens.disk + view.recomputed_tokens;
    assert.ok(fromBelow > 0, `its history came back from a lower tier or was recomputed: ${JSON.stringify(view)}`);
    await page.waitForTimeout(2500); // a few polls, so the charts have a history
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-cache.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-cache-dark.png') });

    // Stop, from the keyboard: a reply aborted before it is whole is marked stopped.
    await page.emulateMedia({ colorScheme: 'light' });
    await page.locator('#nav-chat').click();
    await page.locator('#new-chat').click();
    // The request is held until Stop was pressed: the whole reply takes the tiny model half a
    // second, too little to press a key into reliably.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/v1/responses', async (route) => {
      await held;
      await route.continue().catch(() => {}); // the page has aborted it by then
    });
    await page.locator('#prompt').fill('Once upon a time');
    await page.locator('#prompt').press('Enter');
    await page.locator('#stop').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'stop', 'the stop button takes the focus');
    await page.keyboard.press('Escape');
    await page.locator('.message.assistant .status', { hasText: 'stopped' }).waitFor({ timeout: 5_000 });
    release();
    assert.equal(await page.locator('#send').isVisible(), true);
    assert.equal(await page.locator('.message.assistant .branch').count(), 0, 'a stopped turn is no point to branch from');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
