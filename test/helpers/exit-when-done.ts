// Preloaded into every test file's process by `npm test` (package.json). A file whose tests have
// all finished but whose process stays alive (a socket, server or timer left open because a failed
// assertion skipped its cleanup) would otherwise stall the whole sequential run until CI's limit.
// Here such a file is ended after a grace period with exit code 1, which the runner reports as
// that file's failure, naming what kept it alive.
//
// Node's own --test-force-exit ends the file at once, but on Linux its process.exit() can drop the
// last test verdicts still queued on the pipe to the runner (nodejs/node#64833): CI then counted
// 10 fewer tests in some runs, with no failure. The grace period lets those writes drain.
import { after } from 'node:test';

const GRACE_MS = Number(process.env.PENSIEVE_TEST_EXIT_GRACE_MS ?? 60_000);

if (process.env.NODE_TEST_CONTEXT === 'child-v8') {
  after(() => {
    setTimeout(() => {
      const alive = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
      process.stderr.write(
        `this test file's tests ended ${GRACE_MS / 1000} s ago but its process is still alive ` +
        `(active: ${alive.join(', ') || 'none'}): something was not closed\n`,
      );
      process.exit(1);
    }, GRACE_MS).unref();
  });
}
