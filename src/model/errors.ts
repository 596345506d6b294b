// The one error every model-loading failure becomes, so callers (CLI, server) can print
// "<file>: <problem>" instead of a stack trace, and tests can assert on the problem text.

export class ModelLoadError extends Error {
  readonly file: string;
  readonly problem: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'ModelLoadError';
    this.file = file;
    this.problem = problem;
  }
}

/** Runs `fn`, turning any non-ModelLoadError failure (fs errors, RangeErrors) into one about `file`. */
export function asModelLoadError<T>(file: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ModelLoadError(file, `${what}: ${reason}`);
  }
}
