/**
 * Writing what a run saw: the Chrome trace (--trace FILE) and the HTML report (--html FILE),
 * shared by `pidrace stress`, `pidrace deadlock` and `pidrace replay`.
 */
import { write_file_atomic } from '../cli/common.js';
import { chrome_trace } from './chrome.js';
import type { TraceCapture } from './capture.js';
import { render_html } from './html.js';
import type { ReportModel } from './report_model.js';

/** Trace ring records per CPU when --trace or --html is given (16 bytes a record). */
export const TRACE_RING_EVENTS = 1 << 15;

/** Write the Chrome trace-event JSON of a capture (compact: it opens in Perfetto as it is). */
export function write_trace_file(path: string, cap: TraceCapture, meta: Record<string, unknown> = {}): void {
  write_file_atomic(path, JSON.stringify(chrome_trace(cap, meta)) + '\n');
}

/** Write the self-contained HTML report of a run. */
export async function write_html_file(path: string, m: ReportModel): Promise<void> {
  write_file_atomic(path, await render_html(m));
}

/**
 * A JSON report with its report model (what `pidrace report RUN.json` draws): indented like every
 * JSON report, except the trace records, one line for all of them.
 */
export function json_with_model(report: Record<string, unknown>, m: ReportModel): string {
  const events = m.trace?.events;
  const slim: ReportModel = m.trace ? { ...m, trace: { ...m.trace, events: [] } } : m;
  const text = JSON.stringify({ ...report, report_model: slim }, null, 2);
  return (events ? text.replace('"events": []', `"events": ${JSON.stringify(events)}`) : text) + '\n';
}
