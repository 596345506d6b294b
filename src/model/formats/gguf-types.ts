// GGUF's vocabulary: its 13 metadata value types as a typed union (so a file read and written
// back keeps every key's type), the ggml tensor type ids, and typed accessors for metadata.
//
// Number handling: u8..i32, f32 and f64 are JS numbers. u64 and i64 are numbers when they fit
// exactly (|v| <= 2^53 - 1) and bigints otherwise; the writer accepts either for those types.

import type { TensorDType } from '../../kernels/dtype.js';
import { ModelLoadError } from '../errors.js';

export type GgufNumberType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
export type GgufScalarType = GgufNumberType | 'u64' | 'i64' | 'bool' | 'string';

export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: 'u64' | 'i64'; value: number | bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: GgufNumberType; value: number[] }
  | { type: 'array'; itemType: 'u64' | 'i64'; value: (number | bigint)[] }
  | { type: 'array'; itemType: 'bool'; value: boolean[] }
  | { type: 'array'; itemType: 'string'; value: string[] };

export type GgufMetadata = ReadonlyMap<string, GgufValue>;

/** GGUF value type ids, in the file's numbering (9 is array). */
export const GGUF_TYPE_IDS: Readonly<Record<GgufScalarType | 'array', number>> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
};

export const GGUF_TYPE_BY_ID: readonly (GgufScalarType | 'array')[] =
  (Object.entries(GGUF_TYPE_IDS) as [GgufScalarType | 'array', number][]).sort((a, b) => a[1] - b[1]).map(([t]) => t);

/** ggml tensor type names by id (gaps are ids ggml retired). */
const GGML_TYPE_NAMES: readonly string[] = [
  'F32', 'F16', 'Q4_0', 'Q4_1', 'Q4_2', 'Q4_3', 'Q5_0', 'Q5_1', 'Q8_0', 'Q8_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K',
  'Q8_K', 'IQ2_XXS', 'IQ2_XS', 'IQ3_XXS', 'IQ1_S', 'IQ4_NL', 'IQ3_S', 'IQ2_S', 'IQ4_XS', 'I8', 'I16', 'I32', 'I64',
  'F64', 'IQ1_M', 'BF16', 'Q4_0_4_4', 'Q4_0_4_8', 'Q4_0_8_8', 'TQ1_0', 'TQ2_0', 'IQ4_NL_4_4', 'IQ4_NL_4_8',
  'IQ4_NL_8_8', 'MXFP4',
];

/** The ggml types Pensieve computes with, by id (ggml.h's enum ggml_type). */
const GGML_DTYPES: ReadonlyMap<number, TensorDType> = new Map<number, TensorDType>([
  [0, 'f32'], [1, 'f16'], [2, 'q4_0'], [3, 'q4_1'], [6, 'q5_0'], [7, 'q5_1'], [8, 'q8_0'],
  [10, 'q2_K'], [11, 'q3_K'], [12, 'q4_K'], [13, 'q5_K'], [14, 'q6_K'], [20, 'iq4_nl'], [23, 'iq4_xs'], [30, 'bf16'],
]);
const GGML_IDS: ReadonlyMap<TensorDType, number> = new Map([...GGML_DTYPES].map(([id, d]) => [d, id]));

export function ggmlTypeName(id: number): string {
  return GGML_TYPE_NAMES[id] ?? `unknown type ${id}`;
}

/** Our dtype for a ggml type id, or undefined when the engine cannot compute with it. */
export function dtypeFromGgml(id: number): TensorDType | undefined {
  return GGML_DTYPES.get(id);
}

export function ggmlTypeId(dtype: TensorDType): number {
  return GGML_IDS.get(dtype)!;
}

export const SUPPORTED_GGML_TYPES = [...GGML_DTYPES.keys()].map(ggmlTypeName).join(', ');

// Accessors: metadata keys are optional in general, but when present they must have a usable
// type; a wrong type is a broken file, reported as such.

export function ggufNumber(meta: GgufMetadata, key: string, file: string): number | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type === 'array' || v.type === 'string' || v.type === 'bool') throw wrongType(file, key, v, 'a number');
  if (typeof v.value === 'bigint') throw new ModelLoadError(file, `metadata ${key} = ${v.value} is too large`);
  return v.value;
}

export function ggufString(meta: GgufMetadata, key: string, file: string): string | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'string') throw wrongType(file, key, v, 'a string');
  return v.value;
}

export function ggufStringArray(meta: GgufMetadata, key: string, file: string): string[] | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'array' || v.itemType !== 'string') throw wrongType(file, key, v, 'an array of strings');
  return v.value;
}

export function ggufNumberArray(meta: GgufMetadata, key: string, file: string): number[] | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'array' || v.itemType === 'string' || v.itemType === 'bool') throw wrongType(file, key, v, 'an array of numbers');
  return v.value.map((x) => {
    if (typeof x === 'bigint') throw new ModelLoadError(file, `metadata ${key} holds ${x}, too large`);
    return x;
  });
}

/** Length of an array value of any item type (e.g. the vocabulary size from tokenizer.ggml.tokens). */
export function ggufArrayLength(meta: GgufMetadata, key: string, file: string): number | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'array') throw wrongType(file, key, v, 'an array');
  return v.value.length;
}

function wrongType(file: string, key: string, v: GgufValue, expected: string): ModelLoadError {
  const got = v.type === 'array' ? `array of ${v.itemType}` : v.type;
  return new ModelLoadError(file, `metadata ${key} should be ${expected}, found ${got}`);
}

/** The same metadata with the types dropped (strings, numbers, bigints, booleans, plain arrays), for readers that only need values. */
export function ggufPlainMetadata(meta: GgufMetadata): Map<string, GgufValue['value']> {
  return new Map([...meta].map(([key, v]) => [key, v.value]));
}
