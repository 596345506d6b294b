// A one-line progress bar on stderr (only when stderr is a terminal).
export function progressBar(label: string): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`);
    if (done >= total) process.stderr.write('\n');
  };
}

/**
 * Progress for long steps that must show it without a terminal too (a log, a pipe, CI): the bar
 * on a terminal, else a line at the start and at each tenth of the way.
 */
export function progressReport(label: string): (done: number, total: number) => void {
  const bar = progressBar(label);
  if (bar) return bar;
  let shown = -1;
  return (done, total) => {
    const tenth = total > 0 ? Math.floor((done / total) * 10) : 10;
    if (tenth <= shown) return;
    shown = tenth;
    process.stderr.write(`${label}: ${tenth * 10}%\n`);
  };
}
