import { endpointsOf, type FunctionFile, functionManifest } from './endpoints.js';
import { type Mounted, mount } from './http/mount.js';

const mounted = new Map<FunctionFile, Promise<Mounted>>();

/**
 * A function's exports — one handler per HTTP method and its route table — mounted from the manifest
 * (lib/endpoints.ts), which imports only this function's endpoint families. This is the entry of each
 * function's bundle (scripts/build-functions.ts, awaited at the bundle's top level), which the one-line
 * file under api/ re-exports for Vercel; the dev server, the tests and the scripts call it on the
 * sources instead of importing that file. Mounted once per function and process.
 */
export function mountFunction(file: string): Promise<Mounted> {
  if (!isFunctionFile(file)) throw new Error(`${file} is not a function of lib/endpoints.ts`);
  let functionExports = mounted.get(file);
  if (!functionExports) {
    functionExports = endpointsOf(file).then(mount);
    mounted.set(file, functionExports);
  }
  return functionExports;
}

export function isFunctionFile(file: string): file is FunctionFile {
  return Object.hasOwn(functionManifest, file);
}
