// `pensieve <command>`: dispatches to one module per command. Errors a user can
// cause (bad paths, bad files, bad flags) print one line, not a stack trace.
import { runBenchCommand } from './bench.js';
import { runChat } from './chat.js';
import { runCluster } from './cluster.js';
import { CliError } from './errors.js';
import { runGenerate } from './generate.js';
import { runMakeModel } from './make-model.js';
import { packageInfo } from '../package-info.js';
import { runServe } from './serve.js';

const USAGE = `usage: pensieve <command> [options]

commands:
  serve      the OpenAI-compatible server (pensieve serve --help)
  cluster    N serve replicas behind HAProxy, on this machine (pensieve cluster --help)
  chat       a multi-turn chat in the terminal (pensieve chat --help)
  generate   generate text from a prompt (pensieve generate --help)
  bench      the multi-turn serving benchmark (pensieve bench --help)
  make-model a random-weight model of a real config's shape (pensieve make-model --help)

  pensieve --version (-v) prints the version
`;

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  serve: runServe,
  cluster: runCluster,
  chat: runChat,
  generate: runGenerate,
  bench: runBenchCommand,
  'make-model': runMakeModel,
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`pensieve ${packageInfo().version}\n`);
    return;
  }
  const run = commands[command];
  if (!run) throw new CliError(`unknown command '${command}'\n${USAGE}`);
  await run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const expected = err instanceof Error && ['CliError', 'ModelLoadError', 'TokenizerError', 'RangeError', 'TypeError'].includes(err.name);
  if (expected && !process.env.PENSIEVE_DEBUG) {
    process.stderr.write(`pensieve: error: ${(err as Error).message}\n`);
  } else {
    process.stderr.write(`pensieve: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exitCode = 1;
});
