/**
 * `npm run build:functions` (part of `npm run build`, Vercel's build command): bundles each function of
 * the manifest (lib/endpoints.ts) with esbuild into dist/functions/, which the one-line file under api/
 * re-exports; Vercel then packs that file, the bundle and what the bundle still loads from
 * node_modules. A cold start reads a few files instead of ~600 modules (docs/decisions/0031).
 *
 * - The entry of each bundle mounts the function's own families (lib/api/…, `familiesModule`), the
 *   ones `mountFunction` (lib/functions.ts) mounts through the manifest when the dev server and the
 *   tests run the sources; it never imports the manifest, so it loads no other function's families
 *   (docs/decisions/0034).
 * - Code loaded with `import()` (the drivers of each mode, nodemailer, the OpenAPI builder, bcrypt)
 *   goes into chunks of its own (`splitting`), still read only when first needed.
 * - PGlite and its Kysely dialect stay outside (embedded mode only; production refuses it), and
 *   vercel.json's `excludeFiles` keeps them out of the deployment.
 * - Every output file sits two folders below the project, as lib/db/migrate.ts does, so its
 *   `new URL('../../migrations/', import.meta.url)` names the same folder from a bundle.
 */
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { functionManifest } from '../lib/endpoints.js';
import { endScript } from './end-script.js';
import { projectRoot } from './vercel-local.js';

export const FUNCTIONS_DIR = join(projectRoot, 'dist', 'functions');
/** esbuild's account of the build, next to the bundles. */
export const METAFILE = 'metafile.json';

/** Packages that must never be bundled: embedded mode's database, loaded only when DATA_DIR is used. */
export const EMBEDDED_ONLY = ['@electric-sql/pglite', 'kysely-pglite-dialect'];

/** The bundle's name for a function file: `api/v1/core.js` → `v1-core` (dist/functions/v1-core.mjs). */
export function bundleName(file: string): string {
  return file
    .replace(/^api\//, '')
    .replace(/\.(ts|js|mjs)$/, '')
    .replaceAll('/', '-');
}

export interface FunctionBundle {
  /** The function file under api/, as the manifest names it. */
  readonly file: string;
  /** The bundle's entry. */
  readonly entry: string;
  /** Bytes read at import: the entry and the chunks it imports statically. */
  readonly loadBytes: number;
  /** Every source file in those bytes (node_modules/… or lib/…), for the checks. */
  readonly inputs: readonly string[];
}

/**
 * The module listing a function's endpoint families, named like its file under api/: `api/v1/core.js`
 * → `lib/api/v1/core.ts`. A bundle's entry mounts these families, as `mountFunction` (lib/functions.ts)
 * does on the sources through the manifest, so the bundle imports no other function's families.
 */
export function familiesModule(file: string): string {
  return `lib/${file.replace(/\.(ts|js|mjs)$/, '')}.ts`;
}

/** Bundles every function into `outdir` (emptied first); returns what each bundle loads at import. */
export async function buildFunctions(outdir = FUNCTIONS_DIR): Promise<FunctionBundle[]> {
  rmSync(outdir, { recursive: true, force: true });
  const files = Object.keys(functionManifest);
  // One build per function: a build of all three splits the code two of them share into chunks of its
  // own, and each extra file read at import costs a cold start more than its bytes. Chunks are named by
  // their content, so one the builds have in common (a driver, nodemailer) is the same file.
  const metafile: Metafile = { inputs: {}, outputs: {} };
  for (const file of files) {
    const result = await bundleFunction(file, outdir);
    Object.assign(metafile.inputs, result.inputs);
    Object.assign(metafile.outputs, result.outputs);
  }
  // What went into each output file, for `npm run check:vercel` (no function may carry PGlite).
  writeFileSync(join(outdir, METAFILE), JSON.stringify(metafile));
  return files.map((file) => describeBundle(metafile, outdir, file));
}

/** One function's bundle: its entry mounts the function's families, and what it loads on use is split off. */
async function bundleFunction(file: string, outdir: string): Promise<Metafile> {
  const result = await build({
    absWorkingDir: projectRoot,
    entryPoints: [{ in: `function:${file}`, out: bundleName(file) }],
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    // Shorter code parses faster: local names are shortened too (docs/decisions/0038); `keepNames` would
    // put them back at a cost per function and class at import, so a stack names a bundle's position.
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: true,
    external: EMBEDDED_ONLY,
    // CommonJS dependencies (pg, ws, bcryptjs …) call require() for Node's modules; an ES module has none.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'function-entries',
        setup(builder) {
          builder.onResolve({ filter: /^function:/ }, (args) => ({
            path: args.path.slice('function:'.length),
            namespace: 'function',
          }));
          builder.onLoad({ filter: /.*/, namespace: 'function' }, (args) => ({
            contents: [
              "import { mount } from './lib/http/mount.js';",
              `import { families } from './${familiesModule(args.path)}';`,
              'export const { router, GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = mount(families.flat());',
            ].join('\n'),
            loader: 'ts',
            resolveDir: projectRoot,
          }));
        },
      },
    ],
  });
  return result.metafile;
}

/** The entry of a function's bundle and everything it imports statically. */
function describeBundle(metafile: Metafile, outdir: string, file: string): FunctionBundle {
  const entry = join(outdir, `${bundleName(file)}.mjs`);
  const key = (path: string) => relative(projectRoot, path).split('\\').join('/');
  const seen = new Set<string>();
  const pending = [key(entry)];
  while (pending.length > 0) {
    const output = pending.pop() as string;
    if (seen.has(output)) continue;
    seen.add(output);
    for (const imported of metafile.outputs[output]?.imports ?? []) {
      if (imported.kind === 'import-statement' && metafile.outputs[imported.path])
        pending.push(imported.path);
    }
  }
  const outputs = [...seen].map((output) => metafile.outputs[output]);
  return {
    file,
    entry,
    loadBytes: outputs.reduce((total, output) => total + (output?.bytes ?? 0), 0),
    inputs: [...new Set(outputs.flatMap((output) => Object.keys(output?.inputs ?? {})))],
  };
}

/** Bytes of a file or of everything under a folder. */
export function sizeOf(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((total, name) => total + sizeOf(join(path, name)), 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const bundles = await buildFunctions();
    for (const bundle of bundles) {
      console.log(
        `build:functions: ${bundle.file} → ${relative(projectRoot, bundle.entry)} (${(bundle.loadBytes / 1024).toFixed(0)} KB read at import, ${bundle.inputs.length} source files)`,
      );
    }
    console.log(
      `build:functions: ${(sizeOf(FUNCTIONS_DIR) / 1024).toFixed(0)} KB in ${relative(projectRoot, FUNCTIONS_DIR)} with the lazily loaded chunks`,
    );
    endScript(0);
  } catch (error) {
    console.error(`build:functions: FAILED — ${error instanceof Error ? error.message : String(error)}`);
    endScript(1);
  }
}
