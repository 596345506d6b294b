// The load generator: simulated users replaying conversation scripts against one server. New
// conversations arrive as a Poisson process (`rate` per second); each user waits an exponential
// think time between turns (the paper's 60 s mean, compressed by `timeScale` for short runs);
// at most `maxActive` conversations are open at once (later arrivals wait their turn). Arrivals
// stop after `duration` seconds or `numConversations` conversations; the run ends when every
// started conversation has finished, or, at `drainTimeout` seconds after the last arrival, by
// aborting what is still in flight (those turns count as unfinished).

import { agentPreambleTokens } from './agent.js';
import { setMaxListeners } from 'node:events';
import type OpenAI from 'openai';
import { ConversationClient, type Api, type SamplingOptions, type TurnRecord } from './client.js';
import { Rng } from './rng.js';
import { CHARS_PER_TOKEN, type Workload } from './workload.js';

export interface LoadOptions {
  api: Api;
  model: string;
  /** New conversations per second (Poisson). */
  rate: number;
  /** Mean think time between a reply and the next user message, seconds (before scaling). */
  thinkTime: number;
  /** Factor applied to think times (0.05 turns 60 s into 3 s). */
  timeScale: number;
  maxActive: number;
  /** Seconds during which conversations arrive; or else: */
  duration?: number;
  numConversations?: number;
  /** Seconds after the last arrival before unfinished turns are aborted. */
  drainTimeout: number;
  seed: number;
  /** A conversation ends early rather than grow past this many tokens (prompt + reply). */
  maxContextTokens: number;
  sampling: SamplingOptions;
}

export interface LoadResult {
  records: TurnRecord[];
  conversationsStarted: number;
  conversationsCompleted: number;
  /** Ended before their last scripted turn by the context cap. */
  conversationsCutShort: number;
  /** Wall time from the first arrival to the last completion, ms. */
  elapsedMs: number;
  arrivalWindowMs: number;
  startedAt: string;
}

/** Arrival times (ms) of the Poisson process, until the window or the count is reached. */
export function poissonArrivals(rate: number, seed: number, limit: { durationS?: number; count?: number }): number[] {
  if (!(rate > 0)) throw new RangeError(`rate must be positive, got ${rate}`);
  if (limit.durationS === undefined && limit.count === undefined) throw new RangeError('give a duration or a number of conversations');
  const rng = Rng.derive(seed, 'arrivals');
  const out: number[] = [];
  let t = 0;
  for (;;) {
    if (limit.count !== undefined && out.length >= limit.count) break;
    if (limit.durationS !== undefined && t >= limit.durationS * 1000) break;
    out.push(t);
    t += rng.exponential(1000 / rate);
  }
  return out;
}

/** Runs the load and returns every turn's record. */
export async function runLoad(client: OpenAI, workload: Workload, opts: LoadOptions, onTurn?: (r: TurnRecord) => void): Promise<LoadResult> {
  const arrivals = poissonArrivals(opts.rate, opts.seed, { durationS: opts.duration, count: opts.numConversations });
  const t0 = performance.now();
  const clock = () => performance.now() - t0;
  const abort = new AbortController();
  // Every open conversation's sleeps and requests listen to this one signal.
  setMaxListeners(0, abort.signal);
  const lastArrival = arrivals.at(-1) ?? 0;
  const deadline = setTimeout(() => abort.abort(), lastArrival + opts.drainTimeout * 1000);
  const slots = new Slots(opts.maxActive);
  const records: TurnRecord[] = [];
  const counts = { started: 0, completed: 0, cutShort: 0 };

  const converse = async (i: number, arrivalMs: number) => {
    await sleep(arrivalMs - clock(), abort.signal);
    if (abort.signal.aborted) return;
    if (!(await slots.acquire(abort.signal))) return;
    try {
      const script = workload.conversation(i);
      const thinkRng = Rng.derive(opts.seed, `think-${i}`);
      const user = new ConversationClient(client, opts.api, opts.model, script.id, opts.sampling, clock, script.agent ?? null);
      counts.started++;
      let contextTokens = 0;
      for (let t = 0; t < script.turns.length; t++) {
        const turn = script.turns[t]!;
        // The prompt is the history so far plus this message and a little chat-template overhead.
        const preamble = t === 0 && script.agent ? agentPreambleTokens(script.agent) : 0;
        const estimate = contextTokens + preamble + Math.ceil(turn.user.length / CHARS_PER_TOKEN) + 16 + turn.outputTokens;
        if (estimate > opts.maxContextTokens) {
          counts.cutShort++;
          if (t === 0) counts.started--;
          return;
        }
        if (t > 0) await sleep(thinkRng.exponential(opts.thinkTime * 1000) * opts.timeScale, abort.signal);
        if (abort.signal.aborted) return;
        const record = await user.turn(t, turn.user, {
          maxTokens: turn.outputTokens, seed: turnSeed(opts.seed, i, t), signal: abort.signal,
          ...(turn.kind === 'tool_result' ? { toolResult: true } : {}), ...(turn.final ? { final: true } : {}),
        });
        records.push(record);
        onTurn?.(record);
        if (record.status !== 'ok') return;
        contextTokens = record.promptTokens + record.outputTokens;
      }
      counts.completed++;
    } finally {
      slots.release();
    }
  };

  await Promise.all(arrivals.map((at, i) => converse(i, at)));
  clearTimeout(deadline);
  const lastEnd = Math.max(0, ...records.map((r) => r.endAt));
  return {
    records,
    conversationsStarted: counts.started,
    conversationsCompleted: counts.completed,
    conversationsCutShort: counts.cutShort,
    elapsedMs: lastEnd,
    arrivalWindowMs: lastArrival,
    startedAt: new Date(Date.now() - clock()).toISOString(),
  };
}

/** The sampling seed of one turn: the same in every system, so replies can match. */
function turnSeed(seed: number, conversation: number, turn: number): number {
  return Math.floor(Rng.derive(seed, `sample-${conversation}-${turn}`).next() * 2 ** 31);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A counting semaphore with a FIFO queue: the cap on open conversations. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`max active conversations must be a positive integer, got ${n}`);
    this.free = n;
  }

  /** Resolves true with a slot (release it later), or false when aborted while waiting. */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = () => {
        signal.removeEventListener('abort', cancel);
        resolve(true);
      };
      const cancel = () => {
        const at = this.waiting.indexOf(grant);
        if (at >= 0) this.waiting.splice(at, 1);
        resolve(false);
      };
      this.waiting.push(grant);
      signal.addEventListener('abort', cancel, { once: true });
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
