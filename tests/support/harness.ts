import { after, before, describe } from 'node:test';
import type { App, AppOptions } from '../../lib/app.js';
import { missingBackends, testBackends } from './backends.js';

export interface BackendContext {
  /** The app of the current backend (available inside tests and hooks). */
  readonly app: App;
}

/** Declares the same suite once per available backend, each with a fresh app. */
export function forEachBackend(
  title: string,
  suite: (ctx: BackendContext) => void,
  setup: { env?: Record<string, string>; options?: AppOptions } = {},
): void {
  for (const backend of testBackends()) {
    describe(`${title} [${backend.name}]`, () => {
      let started: Awaited<ReturnType<typeof backend.start>> | undefined;
      before(async () => {
        started = await backend.start(setup.env, setup.options);
      });
      after(async () => {
        await started?.stop();
      });
      suite({
        get app() {
          if (!started) throw new Error('backend not started');
          return started.app;
        },
      });
    });
  }
  for (const missing of missingBackends()) {
    describe(`${title} [${missing.name}]`, { skip: missing.reason }, () => {});
  }
}
