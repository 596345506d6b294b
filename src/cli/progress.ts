// Progress of a long step (loading a model, making one) on stderr: a one-line bar redrawn in
// place on a terminal; elsewhere (a log file, a container, systemd, CI) a plain line at every 10%
// or every few seconds, whichever comes first, so a slow step is never silent.

const LINE_EVERY_MS = 3000;

export function progressBar(label: string, out: NodeJS.WriteStream = process.stderr): (done: number, total: number) => void {
  if (out.isTTY) {
    return (done, total) => {
      const width = 30;
      const filled = Math.round((done / total) * width);
      out.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`);
      if (done >= total) out.write('\n');
    };
  }
  return progressLines(label, (line) => out.write(`${line}\n`));
}

/** The non-terminal form: `label: 40% (12/30)` lines, at most one per 10% step or LINE_EVERY_MS. */
export function progressLines(label: string, write: (line: string) => void, now: () => number = () => performance.now()): (done: number, total: number) => void {
  let lastStep = -1;
  let lastAt = -Infinity;
  return (done, total) => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const step = Math.floor(fraction * 10);
    const t = now();
    if (step <= lastStep && t - lastAt < LINE_EVERY_MS && done < total) return;
    if (done >= total && lastStep === 10) return;
    lastStep = done >= total ? 10 : step;
    lastAt = t;
    write(`${label}: ${Math.floor(fraction * 100)}% (${done}/${total})`);
  };
}
