/**
 * One JSON object per line on stdout/stderr, which Vercel's log drains parse. Secrets never reach a
 * line: fields whose names suggest a secret are replaced, and strings shaped like our keys or JWTs
 * are masked wherever they appear.
 */
import { secretShapes } from './vocabulary.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const SECRET_FIELD = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|admin[-_]?key|^key$/i;
const SECRET_VALUE = [
  // Every secret shape of lib/vocabulary.ts: API keys, refresh tokens, JWTs.
  ...Object.values(secretShapes).map(({ anywhere }) => anywhere),
  /eyJ[\w-]+\.[\w-]+\.[\w-]*/g, // any JWS, even one whose payload is not JSON
  /Bearer\s+\S+/gi,
  // A password reset token travels in this path (API.md), so request paths in lines would carry it.
  /(?<=validate-reset-token\/)[^/?#\s"]+/g,
];

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[…]';
  if (typeof value === 'string') {
    return SECRET_VALUE.reduce((text, pattern) => text.replace(pattern, '[redacted]'), value);
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof Error) {
    return {
      name: value.name,
      message: redact(value.message, depth + 1),
      stack: redact(value.stack, depth + 1),
    };
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        SECRET_FIELD.test(key) ? '[redacted]' : redact(item, depth + 1),
      ]),
    );
  }
  return value;
}

export interface Logger {
  /** Whether a line at `level` is written: a caller can skip building fields nobody reads. */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => console.log(line),
): Logger {
  const emit = (at: Exclude<LogLevel, 'silent'>, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < ORDER[level]) return;
    write(
      JSON.stringify({
        level: at,
        time: new Date().toISOString(),
        message,
        ...(redact(fields ?? {}) as object),
      }),
    );
  };
  return {
    enabled: (at) => ORDER[at] >= ORDER[level],
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}
