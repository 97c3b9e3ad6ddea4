import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, redact } from '../../lib/log.js';

describe('log redaction', () => {
  it('replaces secret-named fields and masks key- and token-shaped strings anywhere', () => {
    const lines: string[] = [];
    const log = createLogger('info', (line) => lines.push(line));
    const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';
    log.error('boom', {
      password: 'hunter2hunter2',
      headers: { authorization: `Bearer ${jwt}`, 'x-api-key': 'heir_pk_abc', accept: 'json' },
      error: new Error(`could not use heir_pk_0123456789abcdefghijABCDEFGHIJklmnop and ${jwt}`),
      note: 'all fine',
    });
    assert.equal(lines.length, 1);
    const line = lines[0] ?? '';
    for (const secret of ['hunter2hunter2', jwt, 'heir_pk_0123456789', 'heir_pk_abc']) {
      assert.ok(!line.includes(secret), `leaked ${secret}`);
    }
    const parsed = JSON.parse(line);
    assert.equal(parsed.level, 'error');
    assert.equal(parsed.note, 'all fine');
    assert.equal(parsed.headers.accept, 'json');
    assert.equal(parsed.password, '[redacted]');
  });

  it('drops lines below the level', () => {
    const lines: string[] = [];
    const log = createLogger('warn', (line) => lines.push(line));
    log.info('quiet');
    log.warn('loud');
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).message),
      ['loud'],
    );
  });

  it('redacts nested arrays', () => {
    assert.deepEqual(redact({ list: [{ token: 'x' }, 'Bearer abc'] }), {
      list: [{ token: '[redacted]' }, '[redacted]'],
    });
  });
});
