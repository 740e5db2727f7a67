/**
 * The host probe's shared words (bench/host_probe.ts and its worker): one home for the layout both
 * sides use. Each word sits on a 64-byte line of its own so that no two roles share a line by
 * accident.
 */

/** Words per 64-byte cache line (Int32Array). */
export const LINE_WORDS = 16;
/** The ping-pong word: 0 = the ping side's turn, 1 = the pong side's. */
export const PP_WORD = 0;
/** The start flag: the main thread stores 1 once every worker is ready. */
export const GO_WORD = LINE_WORDS;
/** Workers count themselves in here before waiting on GO_WORD. */
export const READY_WORD = 2 * LINE_WORDS;
/** First line of the own-line locks: thread i uses OWN_BASE + i * LINE_WORDS. */
export const OWN_BASE = 4 * LINE_WORDS;
