import assert from 'node:assert/strict';
import { ClientError } from '@modelfleet/client';

/** Awaits a client call that must fail, and returns its ClientError (the server's status and body). */
export async function rejects(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ClientError, `expected a ClientError, got ${String(e)}`);
    return e;
  }
  assert.fail('the call succeeded');
}
