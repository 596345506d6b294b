// The sampling and length parameters the three generating routes share: their zod fields (with
// OpenAI's ranges, plus vLLM's top_k, min_p and repetition_penalty) and their translation into
// the engine's SamplingParams, stop strings and token limit.

import { z } from 'zod';
import type { ModelInfo } from '../engine/protocol.js';
import type { SamplingParams } from '../engine/sampler.js';
import { badRequest } from './errors.js';

/** OpenAI's default temperature (and vLLM's): sampling, not greedy, unless asked. */
const DEFAULT_TEMPERATURE = 1;
const MAX_STOP_STRINGS = 4;
/** Beyond this the penalty only flattens the distribution further; vLLM takes any positive value, HF warns past a few. */
const MAX_REPETITION_PENALTY = 10;

export const samplingFields = {
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** -1 or 0: off (vLLM uses -1, some clients 0). */
  top_k: z.number().int().min(-1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  seed: z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish(),
  /** vLLM's: > 1 discourages every token already in the prompt or output; 1 = off. */
  repetition_penalty: z.number().gt(0).max(MAX_REPETITION_PENALTY).nullish(),
  /** OpenAI's: token id (a JSON key, so a string) → bias in [-100, 100]; ids are checked against the vocabulary later. */
  logit_bias: z.record(z.string().regex(/^\d+$/, 'keys must be token ids'), z.number().min(-100).max(100)).nullish(),
};

/** vLLM's extension to the completion APIs: generate past end-of-sequence tokens. */
export const ignoreEosField = z.boolean().nullish();

export const stopField = z
  .union([z.string().min(1), z.array(z.string().min(1)).max(MAX_STOP_STRINGS)])
  .nullish();

export type SamplingFields = { [K in keyof typeof samplingFields]?: z.output<(typeof samplingFields)[K]> };

/** The engine's sampling parameters; logit_bias ids outside the model's vocabulary are a 400. */
export function toSamplingParams(body: SamplingFields, vocabSize: number): SamplingParams {
  const params: SamplingParams = {
    temperature: body.temperature ?? DEFAULT_TEMPERATURE,
    topK: Math.max(0, body.top_k ?? 0),
    topP: body.top_p ?? 1,
    minP: body.min_p ?? 0,
    presencePenalty: body.presence_penalty ?? 0,
    frequencyPenalty: body.frequency_penalty ?? 0,
  };
  if (body.seed !== undefined && body.seed !== null) params.seed = body.seed;
  if (body.repetition_penalty !== undefined && body.repetition_penalty !== null) params.repetitionPenalty = body.repetition_penalty;
  if (body.logit_bias) {
    const bias: Array<[number, number]> = [];
    for (const [key, value] of Object.entries(body.logit_bias)) {
      const id = Number(key);
      if (!(id < vocabSize)) {
        throw badRequest(`logit_bias: token id ${key} is outside the vocabulary [0, ${vocabSize})`, `logit_bias.${key}`, 'invalid_value');
      }
      if (value !== 0) bias.push([id, value]);
    }
    if (bias.length > 0) params.logitBias = bias;
  }
  return params;
}

export function toStopStrings(stop: string | readonly string[] | null | undefined): string[] {
  if (stop === undefined || stop === null) return [];
  return typeof stop === 'string' ? [stop] : [...stop];
}

/** Token limits are integers; their range depends on the model, so it is checked in maxTokens. */
export const maxTokensField = z.number().int().nullish();

/**
 * The token limit of a request: the first of `candidates` the client set, checked to be at
 * least 1 and at most the context window; unset means "until the context window is full".
 */
export function maxTokens(model: ModelInfo, candidates: ReadonlyArray<readonly [param: string, value: number | null | undefined]>): number {
  for (const [param, value] of candidates) {
    if (value === undefined || value === null) continue;
    if (value < 1) throw badRequest(`${param} must be at least 1; got ${value}`, param, 'invalid_value');
    if (value > model.contextLength) {
      throw badRequest(`${param} is ${value}, more than this model's context window of ${model.contextLength} tokens`, param, 'invalid_value');
    }
    return value;
  }
  return model.contextLength;
}
