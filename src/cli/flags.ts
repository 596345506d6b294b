// Parsing of numeric and enum flags, with errors that name the flag.
import type { WeightFormat } from '../model/weights.js';
import { CliError } from './errors.js';

export function numberFlag(
  value: string | undefined,
  name: string,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n))) {
    throw new CliError(`--${name} must be ${opts.integer ? 'an integer' : 'a number'}, got '${value}'`);
  }
  if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    throw new CliError(`--${name} must be in [${opts.min ?? '-inf'}, ${opts.max ?? 'inf'}], got ${n}`);
  }
  return n;
}

const WEIGHT_FORMATS: readonly WeightFormat[] = ['auto', 'f32', 'bf16', 'q8_0'];

export function weightFormatFlag(value: string | undefined): WeightFormat {
  if (value === undefined) return 'auto';
  if (!(WEIGHT_FORMATS as readonly string[]).includes(value)) throw new CliError(`--weights must be one of ${WEIGHT_FORMATS.join(', ')}, got '${value}'`);
  return value as WeightFormat;
}
