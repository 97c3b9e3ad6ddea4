/** `npm run keys:generate`: prints a new Ed25519 private JWK (as a JSON array) for JWT_PRIVATE_KEYS. */
import { generateSigningJwk } from '../lib/identity/signing-keys.js';

console.log(JSON.stringify([await generateSigningJwk()]));
