import type { TextSink } from '../../xml/text-sink.ts';

/**
 * Writes rows to `sink` with backpressure, without holding a SQLite cursor across an await (a rollback on the
 * shared connection would abort it): when the sink pushes back, the iteration stops (which closes the statement),
 * and after the drain `rows()` is asked again; it must resume after the last row written (store iterators do, from a
 * position the caller keeps). Returns the rows written.
 */
export async function streamRows<T>(sink: TextSink, rows: () => Iterable<T>, write: (row: T) => void): Promise<number> {
  let written = 0;
  for (;;) {
    let paused = false;
    for (const row of rows()) {
      write(row);
      written++;
      if (sink.needsDrain) {
        paused = true;
        break;
      }
    }
    if (!paused) return written;
    await sink.drained();
  }
}
