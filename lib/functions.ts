import { endpointsOf, type FunctionFile, functionManifest } from './endpoints.js';
import { type Mounted, mount } from './http/mount.js';

const mounted = new Map<FunctionFile, Mounted>();

/**
 * A function's exports — one handler per HTTP method and its route table — mounted from the manifest
 * (lib/endpoints.ts), for the dev server, the tests and the scripts, which run the sources instead of
 * the file under api/ (a re-export of the function's bundle). A bundle's entry mounts the same
 * families from the function's own module of lib/api/ (scripts/build-functions.ts), so it never
 * imports the manifest and every other function's families. Mounted once per function and process.
 */
export function mountFunction(file: string): Mounted {
  if (!isFunctionFile(file)) throw new Error(`${file} is not a function of lib/endpoints.ts`);
  let functionExports = mounted.get(file);
  if (!functionExports) {
    functionExports = mount(endpointsOf(file));
    mounted.set(file, functionExports);
  }
  return functionExports;
}

export function isFunctionFile(file: string): file is FunctionFile {
  return Object.hasOwn(functionManifest, file);
}
