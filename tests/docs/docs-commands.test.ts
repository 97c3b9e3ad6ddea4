/**
 * The commands the docs tell a reader to paste, run verbatim with bash against a dev server started
 * here (`npm run dev`'s script, embedded, on a free port, in a fresh DATA_DIR): README.md's
 * walkthrough and docs/DEPLOY.md's checks after the first deploy. Each block runs in one shell after
 * the ones before it, as a reader pastes them, so values flow from one step's output to the next.
 * Every `# → …` line under a command is what the reader is told to expect (`…` stands for anything):
 * the block's output must contain it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type DevServer, freePort, startDevServer } from '../support/dev-server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The ```sh blocks between `<!-- NAME…` and `<!-- /NAME -->` in a Markdown file. */
export function shellBlocks(file: string, name: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const start = text.indexOf(`<!-- ${name}`);
  const end = text.indexOf(`<!-- /${name} -->`);
  assert.ok(start >= 0 && end > start, `${file} marks its ${name} commands`);
  return [...text.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
}

/** `# → {"a":"…"}` lines → patterns, `…` matching anything. */
function expectations(block: string): { line: string; pattern: RegExp }[] {
  return [...block.matchAll(/^# → (.+)$/gm)].map((match) => {
    const line = (match[1] ?? '').trim();
    const source = line
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*?');
    return { line, pattern: new RegExp(source) };
  });
}

/** Runs the blocks in one bash, in order, and returns each block's output. */
function runBlocks(blocks: readonly string[], env: Record<string, string>): string[] {
  const script = [
    'set -euo pipefail',
    ...blocks.flatMap((block, i) => [`echo "@@block ${i}@@"`, block]),
  ].join('\n');
  const result = spawnSync('bash', ['-c', script], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    timeout: 120_000,
  });
  assert.equal(result.status, 0, `the commands failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout.split(/@@block \d+@@\n/).slice(1);
}

function checkBlocks(blocks: readonly string[], outputs: readonly string[]): void {
  assert.equal(outputs.length, blocks.length);
  blocks.forEach((block, i) => {
    for (const { line, pattern } of expectations(block)) {
      assert.match(outputs[i] ?? '', pattern, `block ${i + 1}: expected "${line}" in:\n${outputs[i]}`);
    }
  });
}

describe('commands in the docs, run verbatim against npm run dev', () => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'heir-docs-'));
  const dataDir = join(dataRoot, '.data');
  let port = 0;
  let server: DevServer | undefined;

  before(async () => {
    port = await freePort();
    server = await startDevServer(
      {
        PATH: process.env.PATH ?? '',
        DATA_DIR: dataDir,
        NO_ENV_FILES: '1',
        LOG_LEVEL: 'warn',
      },
      port,
    );
    assert.match(
      server.startLog,
      /Creating the embedded database in .* \(first run only/,
      'the first run says what it is doing',
    );
  });
  after(async () => {
    await server?.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  });

  it("runs README.md's walkthrough, each step taking its values from the previous one's output", () => {
    const blocks = shellBlocks('README.md', 'walkthrough');
    assert.ok(blocks.length >= 3);
    const outputs = runBlocks(blocks, { PORT: String(port), DATA_DIR: dataDir });
    checkBlocks(blocks, outputs);
  });

  it("runs docs/DEPLOY.md's checks after the first deploy", () => {
    const adminKey = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    const blocks = shellBlocks('docs/DEPLOY.md', 'after-deploy');
    assert.ok(blocks.length >= 1);
    const outputs = runBlocks(blocks, { HEIR: `http://localhost:${port}`, ADMIN_KEY: adminKey });
    checkBlocks(blocks, outputs);
  });
});
