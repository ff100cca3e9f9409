// A test reporter that prints, once the run ends, how long each test file took (from its
// process's start to its end, while other files ran beside it), slowest first: where the suite's
// minutes go. Node reports a file as a test named by its path: dequeued when its process starts,
// complete when it ends.
export default async function* fileTimes(source) {
  const started = new Map();
  const rows = [];
  for await (const event of source) {
    const { name, file } = event.data ?? {};
    if (!file || name !== file) continue;
    if (event.type === 'test:dequeue') started.set(file, Date.now());
    else if (event.type === 'test:complete' && started.has(file)) {
      rows.push({ file: file.replace(`${process.cwd()}/`, ''), seconds: (Date.now() - started.get(file)) / 1000 });
    }
  }
  rows.sort((a, b) => b.seconds - a.seconds);
  const total = rows.reduce((sum, r) => sum + r.seconds, 0);
  yield `\nTime per test file (its process, while others ran beside it; slowest first; ${total.toFixed(0)} s in all):\n`;
  for (const r of rows) yield `${r.seconds.toFixed(1).padStart(7)} s  ${r.file}\n`;
}
