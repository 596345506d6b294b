// The shapes the store keeps. Items and response objects follow the OpenAI Responses and
// Conversations APIs field for field (snake_case), so the server can hand them out as they are;
// store-only records (what a row holds beyond the API object) use camelCase.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * Who a conversation or response belongs to: the tenant of the API key that created it, or null
 * on a server with no key or a single key. Every store call names one, and a row is visible only
 * to its owner: another owner's id reads exactly like an id that does not exist.
 */
export type Owner = string | null;

/** OpenAI metadata: at most 16 string pairs, keys ≤ 64 chars, values ≤ 512 chars. */
export type Metadata = Record<string, string>;

export type Role = 'user' | 'assistant' | 'system' | 'developer';
export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

export interface InputText {
  type: 'input_text';
  text: string;
}

export interface OutputText {
  type: 'output_text';
  text: string;
  annotations: JsonValue[];
}

export interface Refusal {
  type: 'refusal';
  refusal: string;
}

export type ContentPart = InputText | OutputText | Refusal;

export interface MessageItem {
  type: 'message';
  id: string;
  role: Role;
  content: ContentPart[];
  status: ItemStatus;
}

export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  /** JSON text exactly as the model produced it; it may not parse. */
  arguments: string;
  status: ItemStatus;
}

export interface FunctionCallOutputItem {
  type: 'function_call_output';
  id: string;
  call_id: string;
  output: string;
  status: ItemStatus;
}

/** A reasoning model's thinking (<think>…</think>), as OpenAI's open-weight reasoning items carry it. */
export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  summary: Array<{ type: 'summary_text'; text: string }>;
  content: Array<{ type: 'reasoning_text'; text: string }>;
  status: ItemStatus;
}

export type ConversationItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem;
export type ItemType = ConversationItem['type'];

/** An item as a client or the engine hands it in: the store assigns an id and a status if missing. */
export type NewItem = WithOptionalId<ConversationItem>;
type WithOptionalId<I> = I extends ConversationItem ? Omit<I, 'id' | 'status'> & { id?: string; status?: ItemStatus } : never;

/** The OpenAI conversation object. */
export interface Conversation {
  id: string;
  object: 'conversation';
  created_at: number;
  metadata: Metadata;
}

/**
 * The engine's canonical tokens of a conversation or response, the text they stand for (the
 * rendered prompt plus the generated text), and the model they belong to. Empty tokens: no
 * history (the next turn renders from items).
 */
export interface TokenHistory {
  tokens: Int32Array;
  text: string;
  model: string | null;
}

export interface ListItemsOptions {
  /** 1–100, default 20. */
  limit?: number;
  /** Default 'desc' (newest first), as OpenAI. */
  order?: 'asc' | 'desc';
  /** An item id: the page starts just past it, in the requested order. */
  after?: string;
}

/** The OpenAI list envelope; first_id/last_id are null on an empty page. */
export interface ItemList {
  object: 'list';
  data: ConversationItem[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export type ResponseStatus = 'completed' | 'failed' | 'in_progress' | 'cancelled' | 'queued' | 'incomplete';

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/**
 * The OpenAI response object as GET /v1/responses/{id} returns it. The fields the store indexes
 * are typed; the rest (tools, text, temperature, …) passes through untouched.
 */
export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  model: string;
  previous_response_id: string | null;
  conversation?: { id: string } | null;
  instructions: string | null;
  output: ConversationItem[];
  usage: ResponseUsage | null;
  [field: string]: unknown;
}

/** A stored response: the API object plus what the store keeps beside it (input, links). */
export interface StoredResponse {
  id: string;
  createdAt: number;
  model: string;
  status: ResponseStatus;
  previousResponseId: string | null;
  conversationId: string | null;
  instructions: string | null;
  input: ConversationItem[];
  output: ConversationItem[];
  usage: ResponseUsage | null;
  object: ResponseObject;
}

export interface SaveResponseInput {
  /** Every indexed column (id, model, links, output, usage) is taken from here: one source of truth. */
  object: ResponseObject;
  /** The input items of this turn, for GET /v1/responses/{id}/input_items and chain rebuilding. */
  input: ConversationItem[];
  /** Prompt + output token ids at the end of this response. */
  tokens: Int32Array | readonly number[];
  /** The text those tokens stand for: the rendered prompt + the generated text. */
  text: string;
}

export interface CommitTurnInput {
  /** The conversation this turn belongs to; its items and token history move forward. */
  conversationId?: string;
  /** The response of this turn, when the client asked for it to be stored. */
  response?: Omit<SaveResponseInput, 'tokens' | 'text'>;
  /** Items to append to the conversation (this turn's input and output), in order. */
  newItems: NewItem[];
  /** The canonical token ids after this turn: prompt as templated + output as sampled. */
  tokenHistory: Int32Array | readonly number[];
  /** The text the token history stands for: the rendered prompt + the generated text. */
  historyText: string;
  /** The model the token history was computed with. */
  model: string;
}

export interface CommitTurnResult {
  /** The appended items with the ids and statuses the store assigned. */
  items: ConversationItem[];
}
