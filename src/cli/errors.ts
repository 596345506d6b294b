// A mistake in how the command was called: printed as one line, exit code 1.
export class CliError extends Error {
  override readonly name = 'CliError';
}
