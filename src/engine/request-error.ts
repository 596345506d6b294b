// A request the engine refuses up front (a prompt too long for the context, bad token ids): the
// server answers it with a 400. Its own module so the prompt worker can throw it without loading
// the engine.

export class EngineRequestError extends Error {
  override readonly name = 'EngineRequestError';
  constructor(message: string, readonly param: string | null = null, readonly code: string | null = null) {
    super(message);
  }
}
