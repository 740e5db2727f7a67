/**
 * Writing what a run saw: the Chrome trace (--trace FILE) and the HTML report (--html FILE),
 * shared by `pidrace stress`, `pidrace deadlock` and `pidrace replay`.
 */
import { write_file_atomic } from '../cli/common.js';
import { chrome_trace } from './chrome.js';
import type { TraceCapture } from './capture.js';

/** Trace ring records per CPU when --trace or --html is given (16 bytes a record). */
export const TRACE_RING_EVENTS = 1 << 15;

/** Write the Chrome trace-event JSON of a capture (compact: it opens in Perfetto as it is). */
export function write_trace_file(path: string, cap: TraceCapture, meta: Record<string, unknown> = {}): void {
  write_file_atomic(path, JSON.stringify(chrome_trace(cap, meta)) + '\n');
}
