/**
 * Ends a one-shot script once its work is done. PGlite 0.4's Emscripten runtime keeps re-arming a
 * timer after `close()` (electric-sql/pglite#925), which holds the event loop open for 10 s or, on an
 * existing data folder, indefinitely; and its close() resets process.exitCode (pglite#1059). Every
 * handle the script opened is closed before this is called; nothing is left to flush.
 */
export function endScript(code: number): never {
  process.exit(code);
}
