#!/usr/bin/env node
// The `pensieve` command. The sources are TypeScript, run through tsx's loader.

// Loading tsx and the sources takes seconds (longer on a first run, while tsx compiles them):
// a command that loads a model says at once that it has started. Nothing is imported before
// this line is written.
const [command, ...args] = process.argv.slice(2);
const SLOW = ['serve', 'cluster', 'chat', 'generate', 'bench', 'make-model'];
if (SLOW.includes(command) && !args.includes('--help') && !args.includes('-h')) {
  process.stderr.write(`pensieve ${command}: starting\n`);
}

const { register } = await import('tsx/esm/api');
register();
await import('../src/cli/main.ts');
