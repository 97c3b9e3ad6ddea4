import { VerifiedCache } from '../auth/verified-cache.js';
import type { LiveSession } from './session.repository.js';

/** The instance's verified logins (the live-session row of each), by session id (lib/auth/verified-cache.ts). */
export class SessionCache extends VerifiedCache<LiveSession> {}
